import { AssayError, type FieldIssue } from '../core/index.js';

/**
 * The policy engine refused a request. Carries what an audit entry and a problem+json body
 * need: the action, the principal, and the policies that decided.
 */
export class PolicyDenied extends AssayError {
  readonly action: string;
  readonly principalId: string;
  readonly policyIds: readonly string[];

  /** `errors`: the request fields the denial is about, when the request named what was denied (an ingest's derivation inputs). */
  constructor(denial: { action: string; principalId: string; policyIds: readonly string[]; reason: string; errors?: FieldIssue[] }) {
    super('forbidden', denial.reason, denial.errors ? { errors: denial.errors } : {});
    this.action = denial.action;
    this.principalId = denial.principalId;
    this.policyIds = denial.policyIds;
  }
}

/**
 * A request the schema does not allow (unknown action, wrong resource type for the action,
 * unknown role or attribute). Call sites build requests from code, so this is a bug in the
 * caller, not a client error: it maps to an internal error, and the decision is never "allow".
 */
export class PolicyRequestInvalid extends AssayError {
  constructor(message: string, errors: FieldIssue[] = []) {
    super('internal', message, { errors });
  }
}

/** A policy test file is not valid; each issue names the field path and its line. */
export class PolicyTestFileInvalid extends AssayError {
  constructor(
    readonly file: string,
    errors: FieldIssue[],
  ) {
    super('validation_failed', `invalid policy test file ${file}: ` + errors.map((e) => `${e.field}: ${e.message}`).join('; '), {
      errors,
    });
  }
}
