import type { AnswerChecker } from '../answers/checker.js';
import { under } from '../config/merge.js';
import type { LiveApplier } from '../config/runtime.js';
import type { OverrideAudit } from '../overrides/audit.js';
import type { AttributeTrimmer } from '../trim/trimmer.js';

/**
 * What a pushed config changes at once in lean payloads, checked answers and manual overrides (README "Lean
 * payloads", "Checked answers", "Manual overrides"): each part takes its new settings for the next call.
 * A second applier beside src/gateway/live-config.ts, so those parts stay out of the older one.
 */
export function edgeLiveApplier(p: { trimmer: AttributeTrimmer; checker: AnswerChecker; overrides: OverrideAudit }): LiveApplier {
  return (next, _prev, changed) => {
    const has = (k: string) => changed.some((path) => under(path, k));
    if (has('upstream.trimAttributes')) p.trimmer.configure(next.upstream.trimAttributes);
    if (has('upstream.checkAnswers')) p.checker.configure(next.upstream.checkAnswers);
    if (has('overrides')) p.overrides.configure(next.overrides);
    return [];
  };
}
