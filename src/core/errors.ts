/**
 * Errors with stable codes. Code branches on `code` or `instanceof`, never on message text.
 * `statusCode` is what an HTTP caller sees; `retryable` tells the flusher and the upstream client
 * whether trying again can help. Every code is listed in the README (a test keeps them in sync).
 */
export type ErrorCode =
  | 'SG_ERR_CONFIG_INVALID'
  | 'SG_ERR_BAD_REQUEST'
  | 'SG_ERR_WRONG_STORE'
  | 'SG_ERR_NOT_FOUND'
  | 'SG_ERR_UPSTREAM_UNAVAILABLE'
  | 'SG_ERR_UPSTREAM_TIMEOUT'
  | 'SG_ERR_LOCAL_UNAVAILABLE'
  | 'SG_ERR_DATA_INVALID'
  | 'SG_ERR_DATA_STALE'
  | 'SG_ERR_JOURNAL_FULL'
  | 'SG_ERR_JOURNAL_WRITE'
  | 'SG_ERR_DISK_FULL'
  | 'SG_ERR_JOURNAL_CORRUPT'
  | 'SG_ERR_SESSION_CLOSED'
  | 'SG_ERR_PUSH_TOO_LARGE'
  | 'SG_ERR_PUSH_UNSIGNED'
  | 'SG_ERR_PUSH_ALG'
  | 'SG_ERR_PUSH_UNTRUSTED_KEY'
  | 'SG_ERR_PUSH_SIGNATURE'
  | 'SG_ERR_PUSH_INVALID'
  | 'SG_ERR_PUSH_WRONG_STORE'
  | 'SG_ERR_PUSH_STALE'
  | 'SG_ERR_CONFIG_APPLY'
  | 'SG_ERR_INTERNAL'
  | 'SG_ERR_DATADIR_LOCKED'
  | 'SG_ERR_IDEMPOTENCY_CONFLICT'
  | 'SG_ERR_DEAD_LETTER_SUPERSEDED'
  | 'SG_ERR_DEAD_LETTER_RETRYING'
  | 'SG_ERR_CART_TOO_LARGE'
  | 'SG_ERR_VALIDATION'
  | 'SG_ERR_MALFORMED_JSON'
  | 'SG_ERR_NO_ROUTE'
  | 'SG_ERR_UNAUTHORIZED'
  | 'SG_ERR_FORBIDDEN'
  | 'SG_ERR_MEDIA_TYPE'
  | 'SG_ERR_BODY_TOO_LARGE'
  | 'SG_ERR_BAD_HTTP'
  | 'SG_ERR_BAD_URL'
  | 'SG_ERR_LISTEN'
  | 'SG_ERR_TLS_REQUIRED';

export interface ErrorDetail {
  /** JSON pointer or JSON path of the offending value, when there is one. */
  readonly path?: string;
  readonly message: string;
}

export class StoregateError extends Error {
  readonly code: ErrorCode;
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly details: readonly ErrorDetail[];
  /** Who refused the call, for `X-Storegate-Source` on the error answer (local answers set `local`). */
  source: 'local' | 'gateway' = 'gateway';

  constructor(
    code: ErrorCode,
    message: string,
    opts: { statusCode?: number; retryable?: boolean; details?: readonly ErrorDetail[]; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'StoregateError';
    this.code = code;
    this.statusCode = opts.statusCode ?? 500;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details ?? [];
  }
}

export class ConfigError extends StoregateError {
  constructor(message: string, details: readonly ErrorDetail[] = [], cause?: unknown) {
    super('SG_ERR_CONFIG_INVALID', message, { statusCode: 400, details, cause });
    this.name = 'ConfigError';
  }
}

/** A pushed or ingested data set (rules, prices, coupons, loyalty) that failed validation. */
export class DataError extends StoregateError {
  constructor(message: string, details: readonly ErrorDetail[] = []) {
    super('SG_ERR_DATA_INVALID', message, { statusCode: 400, details });
    this.name = 'DataError';
  }
}

export function isStoregateError(e: unknown): e is StoregateError {
  return e instanceof StoregateError;
}
