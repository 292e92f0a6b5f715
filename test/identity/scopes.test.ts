import { describe, expect, it } from 'vitest';
import { normaliseScopes, roleScopes, scopesAdmit, scopesWithin } from '../../src/identity/tokens.js';

describe('token scopes', () => {
  it('defaults to read and write, and adds them when only roles are named', () => {
    expect(normaliseScopes(undefined)).toEqual({ scopes: ['read', 'write'], issues: [] });
    expect(normaliseScopes(['role:auditor']).scopes).toEqual(['read', 'role:auditor', 'write']);
    expect(normaliseScopes(['read', 'read']).scopes).toEqual(['read']);
    const rules = { operationIds: ['getCurrentPrincipal'] };
    expect(normaliseScopes(['getCurrentPrincipal', 'role:auditor'], rules).scopes).toEqual(['getCurrentPrincipal', 'role:auditor']);
  });

  it('names each bad scope by its index', () => {
    expect(normaliseScopes(['read', 'role:wizard', 'DROP TABLE', '']).issues.map((i) => i.field)).toEqual(['scopes.1', 'scopes.2', 'scopes.3']);
    expect(normaliseScopes(['write', 'bogus'], { field: 'body.token.scopes' }).issues.map((i) => i.field)).toEqual(['body.token.scopes.1']);
  });

  it('accepts only the operation ids it is given, suggesting the one a typo meant', () => {
    const rules = { operationIds: ['ingestDataset', 'getDataset', 'getCurrentPrincipal'] };
    expect(normaliseScopes(['ingestDataset'], rules)).toEqual({ scopes: ['ingestDataset'], issues: [] });
    const typo = normaliseScopes(['ingestDatset', 'bogus', 'getCurrentPrincipal'], rules).issues;
    expect(typo.map((i) => i.field)).toEqual(['scopes.0', 'scopes.1']);
    expect(typo[0]?.message).toContain('did you mean "ingestDataset"?');
    expect(typo[1]?.message).not.toContain('did you mean');
    // Without the API's operation ids, no operation scope can be checked, so none is accepted.
    expect(normaliseScopes(['getCurrentPrincipal']).issues.map((i) => i.field)).toEqual(['scopes.0']);
  });

  it('admits by operation id, or by read for GET and write for every other method', () => {
    expect(scopesAdmit(['read'], { operationId: 'listPrincipals', method: 'GET' })).toBe(true);
    expect(scopesAdmit(['read'], { operationId: 'createPrincipal', method: 'POST' })).toBe(false);
    expect(scopesAdmit(['write'], { operationId: 'listPrincipals', method: 'GET' })).toBe(false);
    expect(scopesAdmit(['write'], { operationId: 'revokeToken', method: 'DELETE' })).toBe(true);
    expect(scopesAdmit(['createPrincipal'], { operationId: 'createPrincipal', method: 'POST' })).toBe(true);
    expect(scopesAdmit(['createPrincipal', 'role:auditor'], { operationId: 'listPrincipals', method: 'GET' })).toBe(false);
  });

  it('lets a credential mint only what it already has', () => {
    expect(scopesWithin(['read', 'write'], ['read', 'write'])).toBe(true);
    expect(scopesWithin(['getCurrentPrincipal'], ['read', 'write'])).toBe(true);
    expect(scopesWithin(['read', 'write'], ['read'])).toBe(false);
    expect(scopesWithin(['read'], ['read', 'issueOwnToken'])).toBe(true);
    expect(scopesWithin(['read', 'write'], ['read', 'role:auditor', 'write'])).toBe(false);
    expect(scopesWithin(['read', 'role:auditor', 'write'], ['read', 'role:auditor', 'write'])).toBe(true);
    expect(scopesWithin(['read', 'role:auditor', 'role:data-steward'], ['read', 'role:auditor'])).toBe(false);
    expect(roleScopes(['read', 'role:auditor', 'role:nope'])).toEqual(['auditor']);
  });
});
