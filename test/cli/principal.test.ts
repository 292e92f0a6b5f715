import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, eventually, exitOf, fetchFresh, readServerInfo, runAssay, spawnAssay } from '../support/cli.js';

const dirs: string[] = [];
function freshHome(): string {
  const dir = mkdtempSync(join(tmpdir(), 'assay-cli-principal-'));
  dirs.push(dir);
  return join(dir, 'home');
}

describe('assay principal and assay token, through the running server', () => {
  const home = freshHome();
  let server: ReturnType<typeof spawnAssay>;
  let url: string;

  beforeAll(async () => {
    const init = runAssay(['--home', home, 'init']);
    expect(init.status, init.stderr).toBe(0);
    server = spawnAssay(['--home', home, 'server', '--port', '0']);
    url = (await eventually(() => readServerInfo(home))).url;
    await eventually(async () => ((await fetchFresh(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined));
  });
  afterAll(async () => {
    server?.kill('SIGTERM');
    if (server) await exitOf(server);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const assay = (...args: string[]) => runAssay(['--home', home, ...args]);
  const whoami = (token: string) => fetchFresh(`${url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });

  it('create --json prints exactly {"id", "token"}, and the token works', async () => {
    const r = assay('principal', 'create', 'x', '--role', 'auditor', '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['id', 'token']);
    expect(out.id).toMatch(/^prn_[0-9A-Z]{26}$/);
    expect(out.token).toMatch(/^assay_[A-Za-z0-9_-]{43}$/);
    const me = await whoami(out.token as string);
    expect(me.status).toBe(200);
    expect(await me.json()).toMatchObject({ id: out.id, name: 'x', kind: 'human', roles: ['auditor'] });
  });

  it('create takes several roles, a kind and attributes, and prints the secret once in text', async () => {
    const r = assay('principal', 'create', 'scoring-agent', '--role', 'app-client', '--role', 'ml-engineer', '--kind', 'agent',
      '--attr', 'team=credit-risk', '--attr', 'clearance=pii,internal', '--attr', 'region=eu-west');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/created agent principal scoring-agent \(prn_\w+\) with roles app-client, ml-engineer/);
    expect(r.stdout).toMatch(/token \(shown once, store it now\): assay_/);
    const shown = assay('principal', 'show', 'scoring-agent', '--json');
    expect(shown.status, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({
      kind: 'agent',
      roles: ['app-client', 'ml-engineer'],
      attributes: { team: 'credit-risk', clearance: ['internal', 'pii'], region: 'eu-west' },
    });
  });

  it('refuses bad usage with exit 2 and bad values with exit 1 naming the field; nothing created', () => {
    expect(assay('principal', 'create', 'no-role').status).toBe(2);
    expect(assay('principal', 'create', 'bad-role', '--role', 'wizard').status).toBe(2);
    expect(assay('principal', 'create', 'bad-kind', '--role', 'auditor', '--kind', 'robot').status).toBe(2);
    const attr = assay('principal', 'create', 'bad-attr', '--role', 'auditor', '--attr', 'colour=red', '--json');
    expect(attr.status).toBe(1);
    expect(JSON.parse(attr.stderr).error).toMatchObject({ code: 'validation_failed', errors: [{ field: 'body.attributes.colour' }] });
    const dup = assay('principal', 'create', 'x', '--role', 'auditor');
    expect(dup.status).toBe(1);
    expect(dup.stderr).toContain('already exists');
    const names = (JSON.parse(assay('principal', 'list', '--json').stdout) as { principals: Array<{ name: string }> }).principals.map((p) => p.name);
    expect(names).not.toEqual(expect.arrayContaining(['no-role', 'bad-attr']));
  });

  it('lists and shows principals', () => {
    const list = assay('principal', 'list', '--json');
    expect(list.status, list.stderr).toBe(0);
    const principals = (JSON.parse(list.stdout) as { principals: Array<{ id: string; name: string }> }).principals;
    expect(principals.map((p) => p.name)).toEqual(['admin', 'x', 'scoring-agent']);
    const text = assay('principal', 'list');
    expect(text.stdout).toMatch(/prn_\w+ {2}x {2}human {2}auditor {2}enabled/);
    const byId = assay('principal', 'show', principals[1]!.id);
    expect(byId.stdout).toContain('name:        x');
    expect(assay('principal', 'show', 'nobody').status).toBe(1);
  });

  it('issues, lists and revokes tokens', async () => {
    const issued = assay('token', 'issue', 'reader', '--principal', 'x', '--scope', 'read', '--expires-in-days', '7', '--json');
    expect(issued.status, issued.stderr).toBe(0);
    const token = JSON.parse(issued.stdout) as { id: string; token: string; scopes: string[]; expiresAt: string };
    expect(token.scopes).toEqual(['read']);
    expect(token.expiresAt).not.toBeNull();
    expect((await whoami(token.token)).status).toBe(200);

    const listed = assay('token', 'list', '--principal', 'x', '--json');
    expect(listed.status, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).tokens.map((t: { name: string }) => t.name)).toEqual(['reader', 'initial']);
    expect(listed.stdout).not.toContain(token.token);

    const mine = assay('token', 'list');
    expect(mine.stdout).toContain('bootstrap');

    const revoked = assay('token', 'revoke', token.id);
    expect(revoked.status, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked ${token.id}`);
    expect((await whoami(token.token)).status).toBe(401);
  });

  it('a non-admin token cannot manage principals (exit 1, forbidden)', () => {
    const created = JSON.parse(assay('principal', 'create', 'sam', '--role', 'data-scientist', '--json').stdout) as { token: string };
    const r = runAssay(['--home', home, '--json', 'principal', 'list'], cliEnv({ ASSAY_TOKEN: created.token }));
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stderr).error.code).toBe('forbidden');
  });

  it('list follows every page: more principals than one page holds are all listed, in order', async () => {
    const token = readFileSync(join(home, 'admin.token'), 'utf8').trim();
    const before = (JSON.parse(assay('principal', 'list', '--json').stdout) as { principals: unknown[] }).principals.length;
    const names = Array.from({ length: 1005 }, (_, i) => `bulk-${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 25) {
      await Promise.all(
        names.slice(i, i + 25).map(async (name) => {
          const res = await fetchFresh(`${url}/api/v1/principals`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name, kind: 'service', roles: ['app-client'] }),
          });
          expect(res.status, await res.text()).toBe(201);
        }),
      );
    }
    const all = (JSON.parse(assay('principal', 'list', '--json').stdout) as { principals: Array<{ name: string }> }).principals;
    expect(all).toHaveLength(before + names.length);
    expect(all.map((p) => p.name).filter((n) => n.startsWith('bulk-')).sort()).toEqual(names);
    const services = (JSON.parse(assay('principal', 'list', '--kind', 'service', '--json').stdout) as { principals: Array<{ kind: string }> }).principals;
    expect(services).toHaveLength(names.length);
  }, 120_000);

  // Last of the tests on the server: it takes long (its fetches use fetchFresh, as a pooled connection may be stale after it).
  it('in text, a refused value is named by the flag or argument that gave it, not the API field', () => {
    const attr = assay('principal', 'create', 'bad-attr', '--role', 'auditor', '--attr', 'colour=red');
    expect(attr.status).toBe(1);
    expect(attr.stderr).toContain('--attr colour: unknown field');
    const values = assay('principal', 'create', 'bad-values', '--role', 'auditor', '--attr', 'team=Credit Risk', '--attr', 'clearance=pii,secret', '--token-name', '');
    expect(values.status).toBe(1);
    expect(values.stderr).toContain('--attr team: must be a lower-case slug');
    // The second item of one --attr's list, not a second --attr.
    expect(values.stderr).toMatch(/--attr clearance: .*"pii"/);
    expect(values.stderr).toContain('--token-name: ');
    const named = assay('principal', 'create', 'bad name!', '--role', 'auditor');
    expect(named.stderr).toContain('NAME: ');
    const scope = assay('principal', 'create', 'bad-scope', '--role', 'auditor', '--scope', 'role:ml-engineer');
    expect(scope.stderr).toContain('--scope: role scopes must name roles the principal holds');
    const issued = assay('token', 'issue', '', '--principal', 'x', '--scope', 'role:ml-engineer');
    expect(issued.status).toBe(1);
    expect(issued.stderr).toContain('NAME: ');
    const revoked = assay('token', 'revoke', 'not-a-token');
    expect(revoked.stderr).toContain('TOKEN_ID: must be a token id');
    for (const r of [attr, values, named, scope, issued, revoked]) expect(r.stderr).not.toMatch(/\b(body|params)\.|- scopes:/);
  });

  it('needs a running server', () => {
    const r = runAssay(['--home', freshHome(), 'principal', 'list']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no running Assay server');
  });
});
