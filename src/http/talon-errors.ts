import type { ErrorCode } from '../core/errors.js';

/**
 * Talon.One's error bodies (its Integration API reference, README "Error codes"): `ErrorResponse {message, errors[]}` and, on most routes,
 * `ErrorResponseWithStatus`, which adds `StatusCode`. Terminals built on a Talon.One SDK parse these.
 */
export interface TalonApiError {
  /** A storegate code (`SG_ERR_…`) for errors storegate raises; Talon.One's own titles pass through unchanged. */
  title: string;
  details?: string;
  source: { pointer?: string; parameter?: string; line?: string; resource?: string };
}

export interface TalonErrorBody {
  message: string;
  errors: TalonApiError[];
  StatusCode?: number;
}

/**
 * A Talon.One error body. Every body has at least one entry, and every entry's `title` is a stable storegate code
 * (`SG_ERR_…`, README "Error codes") with a sentence in `details`: without entries the body holds `code` and
 * `message` as its one entry.
 */
export function talonError(status: number, code: ErrorCode, message: string, errors?: TalonApiError[]): TalonErrorBody {
  return { message, errors: errors && errors.length > 0 ? errors : [{ title: code, details: message, source: {} }], StatusCode: status };
}

/** One `APIError` per failed JSON Schema check, pointing at the offending value (`source.pointer`). */
export function validationErrors(
  issues: readonly { keyword: string; instancePath: string; message?: string; params?: Record<string, unknown> }[],
): TalonApiError[] {
  // A body of 100,000 wrong array items fails 100,000 checks: the answer names the first ones and counts the rest,
  // so its size (and the time to build it) does not grow with the input.
  const shown = issues.length > MAX_LISTED ? issues.slice(0, MAX_LISTED) : issues;
  const listed = shown.map((i) => {
    const extra = i.keyword === 'additionalProperties' ? `/${String(i.params?.additionalProperty ?? '')}` : '';
    const pointer = `${i.instancePath}${extra}` || '/';
    const details =
      i.keyword === 'additionalProperties'
        ? `unknown field "${String(i.params?.additionalProperty ?? '')}" at ${i.instancePath || '/'}: Talon.One's API does not take it here`
        : `the value at ${pointer} ${i.message ?? 'is invalid'} (rule: ${i.keyword})`;
    return { title: VALIDATION, details, source: { pointer } };
  });
  if (issues.length > shown.length) {
    listed.push({ title: VALIDATION, details: `${issues.length - shown.length} more validation errors not listed`, source: { pointer: '/' } });
  }
  return listed;
}

const VALIDATION: ErrorCode = 'SG_ERR_VALIDATION';

/** Validation errors listed in one answer at most (README "Error codes"). */
export const MAX_LISTED = 20;
