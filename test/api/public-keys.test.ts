import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequenceBatch, verifyAuditBundle } from '../../src/audit/index.js';
import { runAuditExport } from '../../src/cli/commands/audit.js';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { verifyCheckpointNote } from '../support/c2sp-note-verifier.js';
import { eachBackend } from '../support/databases.js';

/**
 * An examiner verifying what was signed before a key rotation, with nothing but what the API
 * serves and node:crypto: the DSSE manifest of a dataset certified under the first key, and a
 * checkpoint signed by it, must verify with the retired key the API hands out by keyid, and
 * must not verify with the key that is active now.
 */

type Principal = { id: string; token: string };
type Envelope = { payloadType: string; payload: string; signatures: Array<{ keyid: string; sig: string }> };
type PublishedKey = { keyid: string; algorithm: string; publicKey: string; status: string; createdAt: string; retiredAt: string | null };

/** The raw Ed25519 key inside a note verifier key `name+hexid+base64(0x01‖key)`, split as the README says. */
function rawKeyOf(vkey: string): Buffer {
  const first = vkey.indexOf('+');
  const second = vkey.indexOf('+', first + 1);
  const bytes = Buffer.from(vkey.trim().slice(second + 1), 'base64');
  expect(bytes).toHaveLength(33);
  expect(bytes[0]).toBe(0x01);
  return bytes.subarray(1);
}

/** DSSE signature check written from the spec: Ed25519 over PAE(payloadType, payload). */
function dsseVerifies(envelope: Envelope, vkey: string): boolean {
  const raw = rawKeyOf(vkey);
  const payload = Buffer.from(envelope.payload, 'base64');
  const type = Buffer.from(envelope.payloadType);
  const pae = Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${payload.length} `), payload]);
  const key = createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
  return envelope.signatures.some((s) => s.keyid === createHash('sha256').update(raw).digest('hex') && verify(null, pae, key, Buffer.from(s.sig, 'base64')));
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('verification keys after a rotation [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let ingester: Principal;
  let promoter: Principal;
  let auditor: Principal;

  const get = async (who: Principal, path: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${who.token}` } });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };
  const certify = async (name: string): Promise<Envelope> => {
    const query = new URLSearchParams({ sourceSystem: 'core-banking', classification: 'internal', owner: 'ingester' });
    const up = await fetch(`${base}/api/v1/datasets/${name}/versions?${query.toString()}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ingester.token}`, 'content-type': 'text/csv' },
      body: 'id,amount\n1,10\n2,20\n3,30\n',
    });
    expect(up.status, await up.clone().text()).toBe(201);
    const promoted = await fetch(`${base}/api/v1/datasets/${name}/versions/1/promote`, { method: 'POST', headers: { authorization: `Bearer ${promoter.token}` } });
    expect(promoted.status, await promoted.clone().text()).toBe(200);
    const manifest = await get(auditor, `/api/v1/datasets/${name}/versions/1/manifest`);
    expect(manifest.status, manifest.text).toBe(200);
    return JSON.parse(manifest.text) as Envelope;
  };
  const sequenceAll = async () => {
    while ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced > 0);
  };

  beforeAll(async () => {
    t = await createTestApp(backend);
    ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    auditor = await createPrincipalWithToken(t.db, { name: 'auditor', roles: ['auditor'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => t?.close());

  it('a manifest and a checkpoint signed before a rotation verify with the retired key the API serves, and not with the active one', async () => {
    const old = await certify('loans');
    await sequenceAll();
    const oldCheckpoint = (await get(auditor, '/api/v1/audit/checkpoint')).text;
    const before = await get(auditor, '/api/v1/audit/public-key');

    await t.keyring.rotate();
    const fresh = await certify('loans-2026');
    await sequenceAll();

    const active = (await get(auditor, '/api/v1/audit/public-key')).text;
    expect(active).not.toBe(before.text);
    const [signature] = old.signatures;
    const byKeyid = await get(auditor, `/api/v1/audit/public-key?keyid=${signature!.keyid}`);
    expect(byKeyid).toMatchObject({ status: 200, type: 'text/plain; charset=utf-8' });
    // Same route, same encoding: the key the old manifest names is the one that was active then.
    expect(byKeyid.text).toBe(before.text);

    expect(dsseVerifies(old, byKeyid.text)).toBe(true);
    expect(dsseVerifies(old, active)).toBe(false);
    expect(dsseVerifies(fresh, active)).toBe(true);
    expect(verifyCheckpointNote(oldCheckpoint, byKeyid.text).size).toBeGreaterThan(0);
    expect(() => verifyCheckpointNote(oldCheckpoint, active)).toThrow();

    const list = await get(auditor, '/api/v1/audit/public-keys');
    expect(list.status, list.text).toBe(200);
    expect(list.type).toBe('application/json; charset=utf-8');
    const { keys } = JSON.parse(list.text) as { keys: PublishedKey[] };
    expect(keys.map((k) => Object.keys(k).sort())).toEqual(Array(2).fill(['algorithm', 'createdAt', 'keyid', 'publicKey', 'retiredAt', 'status']));
    const [first, second] = keys as [PublishedKey, PublishedKey];
    expect(first).toMatchObject({ keyid: signature!.keyid, algorithm: 'ed25519', publicKey: before.text.trim(), status: 'retired' });
    expect(second).toMatchObject({ keyid: fresh.signatures[0]!.keyid, algorithm: 'ed25519', publicKey: active.trim(), status: 'active', retiredAt: null });
    // The first key signed until the rotation that made the second.
    expect(first.retiredAt).toBe(second.createdAt);
    expect(Date.parse(first.createdAt)).toBeLessThanOrEqual(Date.parse(second.createdAt));
    for (const k of keys) expect(createHash('sha256').update(rawKeyOf(k.publicKey)).digest('hex')).toBe(k.keyid);
    // Only public halves leave the server.
    expect(list.text).not.toMatch(/PRIVATE|BEGIN/);
    // The manifest was certified while its key was the active one, as the README tells examiners to check.
    const certifiedAt = Date.parse((JSON.parse(Buffer.from(old.payload, 'base64').toString('utf8')) as { predicate: { certifiedAt: string } }).predicate.certifiedAt);
    expect(certifiedAt).toBeGreaterThanOrEqual(Date.parse(first.createdAt));
    expect(certifiedAt).toBeLessThanOrEqual(Date.parse(first.retiredAt!));
    // The list alone suffices: the examiner picks the key by the manifest's keyid.
    expect(dsseVerifies(old, keys.find((k) => k.keyid === signature!.keyid)!.publicKey)).toBe(true);
  });

  it('the route without keyid keeps its answer: the active key, and query parameters it never took stay ignored', async () => {
    const plain = await get(auditor, '/api/v1/audit/public-key');
    expect(plain.status).toBe(200);
    expect(plain.text).toMatch(/^assay\/[0-9a-f]{16}\+[0-9a-f]{8}\+[A-Za-z0-9+/]+=*\n$/);
    expect(rawKeyOf(plain.text).equals(t.keyring.active().publicKey)).toBe(true);
    expect((await get(auditor, '/api/v1/audit/public-key?format=text')).text).toBe(plain.text);
  });

  it.each([
    ['an unknown keyid', 'a'.repeat(64), 404, 'not_found'],
    ['an upper-case keyid', 'A'.repeat(64), 400, 'validation_failed'],
    ['a short keyid', 'abc', 400, 'validation_failed'],
    ['a note key id (8 hex) instead', '0123abcd', 400, 'validation_failed'],
    ['an empty keyid', '', 400, 'validation_failed'],
  ])('%s (keyid=%s) → %i problem naming query.keyid', async (_what, id, status, code) => {
    const res = await get(auditor, `/api/v1/audit/public-key?keyid=${id}`);
    expect(res.status, res.text).toBe(status);
    expect(res.type).toContain('application/problem+json');
    const problem = JSON.parse(res.text) as { code: string; errors: Array<{ field: string }> };
    expect(problem.code).toBe(code);
    expect(problem.errors.map((e) => e.field)).toEqual(['query.keyid']);
  });

  it('assay audit export through the server, while the newest checkpoint predates a rotation: the bundle carries the key that signed it', async () => {
    await sequenceAll();
    const signer = (await get(auditor, '/api/v1/audit/public-key')).text.trim();
    // No sequencing after this rotation: the newest checkpoint stays signed by the key just retired.
    await t.keyring.rotate();
    expect((await get(auditor, '/api/v1/audit/public-key')).text.trim()).not.toBe(signer);
    const dir = mkdtempSync(join(tmpdir(), 'assay-keys-export-'));
    try {
      const out = join(dir, 'bundle.tar');
      const stdout: string[] = [];
      const stderr: string[] = [];
      const io = { stdout: (s: string) => stdout.push(s), stderr: (s: string) => stderr.push(s), env: { ASSAY_TOKEN: t.adminToken }, cwd: dir };
      expect(await runAuditExport(io, { home: t.deps.config.home, url: base, out, json: true }), stderr.join('')).toBe(0);
      expect(JSON.parse(stdout.join(''))).toMatchObject({ exportedVia: 'server', key: signer });
      expect(await verifyAuditBundle({ path: out, publicKey: signer })).toMatchObject({ ok: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the same policy as the active key: auditors and administrators read the list, a data steward is refused', async () => {
    expect((await get({ id: t.adminId, token: t.adminToken }, '/api/v1/audit/public-keys')).status).toBe(200);
    expect((await get(ingester, '/api/v1/audit/public-keys')).status).toBe(403);
    expect((await get(ingester, `/api/v1/audit/public-key?keyid=${'a'.repeat(64)}`)).status).toBe(403);
  });
});
