/**
 * Talon.One's error bodies (NOTES §1.9): `ErrorResponse {message, errors[]}` and, on most routes,
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
  return issues.map((i) => {
    const extra = i.keyword === 'additionalProperties' ? `/${String(i.params?.additionalProperty ?? '')}` : '';
    const pointer = `${i.instancePath}${extra}` || '/';
    const details =
      i.keyword === 'additionalProperties'
        ? `unknown field "${String(i.params?.additionalProperty ?? '')}"`
        : `${pointer} ${i.message ?? 'is invalid'}`;
    return { title: i.keyword, details, source: { pointer } };
  });
}
