/**
 * Typed domain errors. Every error Assay raises on purpose is an `AssayError` with a code
 * from the closed `ErrorCode` union; `api/` maps codes to HTTP statuses in exactly one
 * place (a `Record<ErrorCode, number>`, so a new code fails to compile until mapped).
 */

/** The closed set of error codes Assay raises deliberately. */
export type ErrorCode =
  | 'validation_failed'
  | 'malformed_request'
  | 'unauthenticated'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'config_invalid'
  | 'migration_edited'
  | 'integrity_violation'
  | 'database_locked'
  | 'unavailable'
  | 'insufficient_storage'
  | 'internal';

/** One bad field: `field` is a dotted path or JSON pointer into the input. */
export interface FieldIssue {
  field: string;
  message: string;
}

/** Base of every deliberate Assay error. */
export class AssayError extends Error {
  readonly code: ErrorCode;
  readonly errors: FieldIssue[];

  constructor(code: ErrorCode, message: string, options: { errors?: FieldIssue[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.errors = options.errors ?? [];
  }
}

/** Input failed validation; `errors` names every bad field. */
export class ValidationFailed extends AssayError {
  constructor(message: string, errors: FieldIssue[]) {
    super('validation_failed', message, { errors });
  }
}

/** The request could not be parsed at all (bad JSON, wrong encoding). */
export class MalformedRequest extends AssayError {
  constructor(message: string, errors: FieldIssue[] = [], cause?: unknown) {
    super('malformed_request', message, { errors, cause });
  }
}

/** No valid credentials were presented. `reason` is safe to show to the caller. */
export class Unauthenticated extends AssayError {
  constructor(readonly reason: string) {
    super('unauthenticated', reason);
  }
}

/** The caller is authenticated but not permitted to do this. `reason` is safe to show; `errors` names the fields refused, if any. */
export class Forbidden extends AssayError {
  constructor(
    readonly reason: string,
    errors: FieldIssue[] = [],
  ) {
    super('forbidden', reason, { errors });
  }
}

/** The named resource does not exist. */
export class NotFound extends AssayError {
  constructor(
    readonly resourceType: string,
    readonly resourceId: string,
  ) {
    super('not_found', `${resourceType} ${resourceId} not found`);
  }
}

/** The change conflicts with current state (duplicate, wrong lifecycle state). */
export class Conflict extends AssayError {
  constructor(message: string, errors: FieldIssue[] = []) {
    super('conflict', message, { errors });
  }
}

/** Configuration is invalid; `errors` names each bad key. */
export class ConfigInvalid extends AssayError {
  constructor(errors: FieldIssue[], source: string) {
    super(
      'config_invalid',
      `invalid configuration (${source}): ` + errors.map((e) => `${e.field}: ${e.message}`).join('; '),
      { errors },
    );
  }
}

/** An already-applied migration file no longer matches the checksum recorded when it ran. */
export class MigrationEdited extends AssayError {
  constructor(
    readonly version: number,
    readonly fileName: string,
    detail: string,
  ) {
    super('migration_edited', `migration ${fileName} (version ${version}) ${detail}; refusing to start`);
  }
}

/** Stored content does not match its address: the blob was corrupted or tampered with. */
export class BlobCorrupt extends AssayError {
  constructor(
    readonly hash: string,
    readonly actualHash?: string,
  ) {
    super(
      'integrity_violation',
      `blob sha256:${hash} is corrupt` + (actualHash ? ` (content hashes to sha256:${actualHash})` : ''),
    );
  }
}

/** Another process owns the embedded database. */
export class DatabaseLocked extends AssayError {
  constructor(
    readonly path: string,
    readonly holderPid: number,
  ) {
    super('database_locked', `the embedded database ${path} is locked by process ${holderPid}`);
  }
}

/** A dependency (database, blob store) is not reachable right now. */
export class Unavailable extends AssayError {
  constructor(message: string, cause?: unknown) {
    super('unavailable', message, { cause });
  }
}

/** The server's disk (spool, blob store, DuckDB's spill, the database) is full: nothing was kept. */
export class InsufficientStorage extends AssayError {
  constructor(message: string, cause?: unknown) {
    super('insufficient_storage', message, { cause });
  }
}

/**
 * True when `err`, or an error it was caused by, is storage running out: a filesystem's ENOSPC
 * or EDQUOT, PostgreSQL's disk_full (SQLSTATE 53100), or DuckDB failing to write for lack of space.
 */
export function isStorageFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === '53100') return true;
    if (/No space left on device|Disk quota exceeded/i.test(e.message)) return true;
  }
  return false;
}

/** True when `err` is an AssayError (across module copies too). */
export function isAssayError(err: unknown): err is AssayError {
  return err instanceof AssayError;
}

/** A signature did not verify, or no signature came from a known key: the signed content cannot be trusted. */
export class SignatureInvalid extends AssayError {
  constructor(
    message: string,
    readonly keyid?: string,
  ) {
    super('integrity_violation', message);
  }
}
