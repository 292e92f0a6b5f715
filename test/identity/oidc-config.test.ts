import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigInvalid, loadConfig, type AssayConfig } from '../../src/core/index.js';
import { createAuthenticator } from '../../src/identity/index.js';
import { createPgliteDb } from '../../src/store/index.js';
import { tempDirs } from '../support/temp-dirs.js';

const temp = tempDirs();
afterAll(() => temp.removeAll());

const base = { issuer: 'https://idp.example.test/realms/a', audience: 'assay', jwksUri: 'https://idp.example.test/realms/a/certs' };

function load(oidc: unknown): AssayConfig {
  const cwd = temp.make('assay-oidc-config-');
  writeFileSync(join(cwd, 'config.json'), JSON.stringify({ oidc }));
  return loadConfig({ env: { ASSAY_CONFIG: join(cwd, 'config.json') }, cwd });
}

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigInvalid) return err.errors.map((e) => e.field);
    throw err;
  }
  throw new Error('expected ConfigInvalid');
}

describe('oidc configuration', () => {
  it('defaults to no issuers, and fills each issuer\'s defaults', () => {
    const cwd = temp.make('assay-oidc-config-');
    expect(loadConfig({ env: {}, cwd }).oidc).toEqual({ issuers: [] });
    expect(load({ issuers: [base] }).oidc.issuers[0]).toEqual({
      ...base,
      subjectClaim: 'sub',
      rolesClaim: 'groups',
      roleMapping: {},
      algorithms: ['RS256', 'ES256'],
      clockSkewSeconds: 60,
      jwksCacheSeconds: 600,
      jwksCooldownSeconds: 30,
    });
  });

  it.each([
    ['a plain-http key set off loopback', { ...base, jwksUri: 'http://idp.example.test/certs' }, 'oidc.issuers.0.jwksUri'],
    ['alg none', { ...base, algorithms: ['none'] }, 'oidc.issuers.0.algorithms.0'],
    ['a shared-secret algorithm', { ...base, algorithms: ['HS256'] }, 'oidc.issuers.0.algorithms.0'],
    ['an unbounded skew', { ...base, clockSkewSeconds: 3600 }, 'oidc.issuers.0.clockSkewSeconds'],
    ['an unknown key', { ...base, colour: 'red' }, 'oidc.issuers.0.colour'],
    ['no audience', { issuer: base.issuer, jwksUri: base.jwksUri }, 'oidc.issuers.0.audience'],
  ])('refuses %s, naming the key', (_n, issuer, field) => {
    expect(fieldsOf(() => load({ issuers: [issuer] }))).toContain(field);
  });

  it('refuses two issuers with the same iss or the same name', () => {
    const fields = fieldsOf(() => load({ issuers: [base, { ...base, jwksUri: 'https://other.example.test/certs' }] }));
    expect(fields).toEqual(expect.arrayContaining(['oidc.issuers.1.issuer', 'oidc.issuers.1.name']));
  });

  it('allows a loopback http key set (local identity providers, tests)', () => {
    expect(load({ issuers: [{ ...base, jwksUri: 'http://127.0.0.1:8080/certs' }] }).oidc.issuers).toHaveLength(1);
  });

  it('refuses at start a role mapping to a role that is not built in, naming the group', async () => {
    const config = load({ issuers: [{ ...base, roleMapping: { admins: 'root', auditors: 'auditor' } }] });
    const db = await createPgliteDb();
    try {
      expect(fieldsOf(() => createAuthenticator({ db, oidc: config.oidc }))).toEqual(['oidc.issuers.0.roleMapping.admins']);
    } finally {
      await db.close();
    }
  });
});
