/**
 * Talon.One error bodies (`ErrorResponse`, `ErrorResponseWithStatus`, `APIError` of
 * https://docs.talon.one/oas/integration.yaml; https://docs.talon.one/integration-api, "Response codes and error handling").
 * Handlers throw `ApiError`; the server turns it into JSON.
 */

export interface ErrorSource {
  pointer?: string;
  parameter?: string;
}

export interface ApiErrorItem {
  title: string;
  details?: string;
  source: ErrorSource;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: ApiErrorItem[] = [],
    /** `updateCustomerSessionV2`'s 400 is `ErrorResponse` (no `StatusCode`); most others carry it. */
    readonly withStatusCode = true,
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    const b: Record<string, unknown> = { message: this.message, errors: this.errors };
    if (this.withStatusCode) b['StatusCode'] = this.status;
    return b;
  }
}

export const INVALID = 'The submitted data was invalid';

/** One validation problem; collected into a single 400. */
export function problem(pointer: string, title: string, details: string): ApiErrorItem {
  return { title, details, source: { pointer } };
}

export function invalid(items: ApiErrorItem[], withStatusCode = true): ApiError {
  return new ApiError(400, INVALID, items, withStatusCode);
}

export function badParam(parameter: string, details: string): ApiError {
  return new ApiError(400, INVALID, [{ title: 'Invalid parameter', details, source: { parameter } }]);
}

export function notFound(what: string): ApiError {
  return new ApiError(404, `${what} not found`, [{ title: 'Not found', details: `${what} not found`, source: { pointer: '/' } }]);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 'Invalid or missing API key', [
    { title: 'Unauthorized', details: 'Send "Authorization: ApiKey-v1 <key>" with a valid key', source: { parameter: 'Authorization' } },
  ]);
}

export function tooManySession(): ApiError {
  return new ApiError(409, 'Too many requests are updating this session at the same time');
}

export function tooManyProfile(): ApiError {
  return new ApiError(409, 'Too many requests are updating this profile at the same time');
}
