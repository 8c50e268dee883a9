import type { SessionExplanation } from '../checkout/explain-session.js';
import { adminCall } from './daemon-client.js';

export interface ExplainCommandOptions {
  url: Parameters<typeof adminCall>[0];
  adminToken: string | null;
  json: boolean;
  sessionId: string | undefined;
  /** Evaluate at this instant (RFC 3339) instead of the session's last update. */
  now?: string;
  configSource?: string;
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: storegate explain SESSION_ID [--now RFC3339] [--json] [--config FILE] [--url URL]';

/** What each outcome is called in the words output (fixed width, so the campaigns line up). */
const LABEL: Record<string, string> = {
  triggered: 'applied',
  notTriggered: 'not applied',
  notRunning: 'not running',
  otherStore: 'other store',
  notOfflineCapable: 'not offline',
  notInEvaluationTree: 'not in tree',
  excluded: 'excluded',
  skipped: 'skipped',
  replacedByFallback: 'not used',
  fallbackIdle: 'fallback idle',
};

/**
 * `storegate explain SESSION_ID`: asks the running daemon why campaigns did or did not apply to a session's last
 * evaluation (README "Why not?"), and prints one line per campaign. Exit 0, or 1 when the daemon cannot answer
 * (unknown session, not running), 2 on a usage error.
 */
export async function explainCommand(o: ExplainCommandOptions): Promise<number> {
  if (!o.sessionId) {
    o.err(USAGE);
    return 2;
  }
  const q = o.now !== undefined ? `?now=${encodeURIComponent(o.now)}` : '';
  let x: SessionExplanation;
  try {
    x = (await adminCall(o.url, o.adminToken, 'GET', `/admin/explain/${encodeURIComponent(o.sessionId)}${q}`, 10_000, undefined, o.configSource)) as SessionExplanation;
  } catch (e) {
    o.err((e as Error).message);
    return 1;
  }
  if (o.json) {
    o.out(JSON.stringify(x, null, 2));
    return 0;
  }
  for (const line of describe(x)) o.out(line);
  return 0;
}

/** The explanation in words: a header, then one line per campaign, then the missing attributes. */
export function describe(x: SessionExplanation): string[] {
  const who = x.answeredBy === 'local' ? 'answered by this shop' : 'answered by Talon.One (what the shop would decide offline)';
  const lines = [
    `session ${x.sessionId}: ${x.state}, ${x.updateCount} update(s), ${who}`,
    `evaluated again at ${x.evaluatedAt} with rules v${x.rulesVersion}${x.catalogVersion ? `, catalog v${x.catalogVersion}` : ''}: ${x.effects} effect(s)` +
      (x.matchesLastAnswer === null ? '' : x.matchesLastAnswer ? ', the same as the last answer' : ', NOT the same as the last answer (the data changed since it was given)'),
  ];
  if (x.note) lines.push(x.note);
  if (x.fallback) lines.push(`fallback: ${x.fallback}`);
  const width = Math.max(...x.campaigns.map((c) => (LABEL[c.outcome] ?? c.outcome).length), 8);
  for (const c of x.campaigns) {
    // A campaign whose rules passed without giving anything is not called "applied".
    const label = (c.outcome === 'triggered' && c.reason ? 'no effect' : LABEL[c.outcome] ?? c.outcome).padEnd(width);
    lines.push(`${label}  #${c.id} ${c.name}${c.fallback ? ' [fallback]' : ''}${c.reason ? ` — ${c.reason}` : ''}`);
    // A campaign with several rules: each failed rule on its own line.
    if (c.rules.length > 1) for (const r of c.rules) if (r.failed) lines.push(`${' '.repeat(width)}    rule ${r.index} "${r.name}": block ${r.failed.blockIndex} (${r.failed.blockType}): ${r.failed.details}`);
  }
  if (x.campaigns.length === 0) lines.push('no campaigns in the rules data');
  if (x.missingAttributes.length > 0) lines.push(`missing attributes: ${x.missingAttributes.join(', ')}`);
  return lines;
}
