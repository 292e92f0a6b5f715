import type { ErrorCode, FieldIssue } from '../core/index.js';

/** HTTP status per error code: the one place codes meet HTTP (a missing code fails to compile). */
export const STATUS_OF: Record<ErrorCode, number> = {
  validation_failed: 400,
  malformed_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  config_invalid: 500,
  migration_edited: 500,
  integrity_violation: 500,
  database_locked: 503,
  unavailable: 503,
  insufficient_storage: 507,
  internal: 500,
};

const TITLE_OF: Record<ErrorCode, string> = {
  validation_failed: 'Validation failed',
  malformed_request: 'Malformed request',
  unauthenticated: 'Unauthenticated',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  conflict: 'Conflict',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  config_invalid: 'Server misconfigured',
  migration_edited: 'Database schema history diverged',
  integrity_violation: 'Integrity violation',
  database_locked: 'Database locked',
  unavailable: 'Service unavailable',
  insufficient_storage: 'Insufficient storage',
  internal: 'Internal error',
};

/** An RFC 9457 problem details body, with Assay's extension members. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: ErrorCode;
  requestId: string;
  errors?: Array<{ field: string; detail: string }>;
  correlationId?: string;
  [extension: string]: unknown;
}

/** Media type of every error body. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Builds the problem body for an error code; `type` is a stable URN per code. */
export function problemOf(input: {
  code: ErrorCode;
  detail: string;
  instance: string;
  requestId: string;
  errors?: FieldIssue[];
  status?: number;
}): Problem {
  const p: Problem = {
    type: `urn:assay:problem:${input.code}`,
    title: TITLE_OF[input.code],
    status: input.status ?? STATUS_OF[input.code],
    detail: input.detail,
    instance: input.instance,
    code: input.code,
    requestId: input.requestId,
  };
  if (input.errors && input.errors.length > 0) p.errors = input.errors.map((e) => ({ field: e.field, detail: e.message }));
  return p;
}
