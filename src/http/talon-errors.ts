/**
 * Talon.One's error bodies (its Integration API reference, README "Error codes"): `ErrorResponse {message, errors[]}` and, on most routes,
 * `ErrorResponseWithStatus`, which adds `StatusCode`. Terminals built on a Talon.One SDK parse these.
 */
export interface TalonApiError {
  title: string;
  details?: string;
  source: { pointer?: string; parameter?: string; line?: string; resource?: string };
}

export interface TalonErrorBody {
  message: string;
  errors: TalonApiError[];
  StatusCode?: number;
}

export function talonError(status: number, message: string, errors: TalonApiError[] = []): TalonErrorBody {
  return { message, errors, StatusCode: status };
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
        ? `unknown field "${String(i.params?.additionalProperty ?? '')}"`
        : `${pointer} ${i.message ?? 'is invalid'}`;
    return { title: i.keyword, details, source: { pointer } };
  });
  if (issues.length > shown.length) {
    listed.push({ title: 'truncated', details: `${issues.length - shown.length} more validation errors not listed`, source: { pointer: '/' } });
  }
  return listed;
}

/** Validation errors listed in one answer at most (README "Error codes"). */
export const MAX_LISTED = 20;
