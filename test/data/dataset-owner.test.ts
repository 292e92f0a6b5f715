import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { updatePrincipal } from '../../src/identity/index.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

const FILE = 'id,amount\n1,10\n2,20\n';

/**
 * A new dataset's accountable owner (signed into its manifests as `owner`) is an enabled human
 * principal: a service or agent answers to no one, a disabled principal cannot be asked. Each
 * other owner is 400 naming query.owner before a byte is read, and leaves nothing behind.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('dataset owner [%s]', (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };

  beforeAll(async () => {
    t = await createTestApp(backend);
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    await createPrincipalWithToken(t.db, { name: 'scoring-app', roles: ['app-client'], kind: 'service' });
    await createPrincipalWithToken(t.db, { name: 'copilot', roles: ['data-scientist'], kind: 'agent' });
    const leaver = await createPrincipalWithToken(t.db, { name: 'leaver', roles: ['data-steward'] });
    await updatePrincipal(t.db, { id: leaver.id, disabled: true }, { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' }, reason: 'left the bank' });
  });
  afterAll(async () => t?.close());

  it.each([
    ['a service', 'scoring-app', /scoring-app is a service, not a person/],
    ['an agent', 'copilot', /copilot is an agent, not a person/],
    ['a disabled principal', 'leaver', /leaver is disabled/],
  ])('%s as the owner of a new dataset → 400 naming query.owner, nothing left', async (_what, owner, detail) => {
    const before = await leftovers(t);
    const res = await upload(t, { name: 'ledger', body: FILE, token: steward.token, query: { classification: 'internal', owner } });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json()).toMatchObject({ errors: [{ field: 'query.owner', detail: expect.stringMatching(detail) }] });
    expect(await leftovers(t)).toEqual(before);
  });

  it('an enabled human owns it', async () => {
    const res = await upload(t, { name: 'ledger', body: FILE, token: steward.token, query: { classification: 'internal', owner: 'steward' } });
    expect(res.statusCode, res.body).toBe(201);
    expect((await t.db.query<{ owner_id: string }>(`SELECT owner_id FROM datasets WHERE name = 'ledger'`)).rows).toEqual([{ owner_id: steward.id }]);
  });
});
