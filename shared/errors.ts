/**
 * The one catalog of Berth error codes and the HTTP status each maps to (SPEC §5).
 */
export const ERROR_STATUS = Object.freeze({
  INVALID_REQUEST: 400,
  PAYLOAD_TOO_LARGE: 413,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  SERVER_NOT_FOUND: 404,
  SESSION_FILE_NOT_FOUND: 404,
  ALREADY_ALLOCATED: 409,
  CONFLICT: 409,
  UPLOAD_FAILED: 502,
  HOST_KEY_MISMATCH: 502,
  SSH_UNREACHABLE: 502,
  NO_ELIGIBLE_SERVER: 503,
  SHUTTING_DOWN: 503,
  TIMEOUT: 504,
  INTERNAL: 500,
} as const);

/** Every error code Berth uses. */
export type ErrorCode = keyof typeof ERROR_STATUS;

/** An error that carries a code from the catalog and optional details safe to show. */
export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BerthError';
    this.code = code;
    this.details = details;
  }

  /** HTTP status for this error. */
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

/** True when `e` is a {@link BerthError}, optionally with the given code. */
export function isBerthError(e: unknown, code?: ErrorCode): e is BerthError {
  return e instanceof BerthError && (code === undefined || e.code === code);
}
