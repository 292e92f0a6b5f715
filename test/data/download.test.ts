import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import type { DsseEnvelope } from '../../src/core/index.js';
import { CERTIFIED_BLOB_CORRUPT_EVENT, DATASET_DOWNLOAD_ACTION, DATASET_DOWNLOAD_INCOMPLETE_ACTION, verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { issueToken } from '../../src/identity/index.js';
import { loadPolicyEngine } from '../../src/policy/index.js';
import { createPrincipalWithToken, createTestApp, decisionsOf, type TestApp } from '../support/app.js';
import { eventually } from '../support/cli.js';
import { eachBackend } from '../support/databases.js';
import { duckRows, upload } from './support.js';

type Principal = { id: string; token: string };
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `n` loan rows: an id, an amount and a grade; `seed` makes the file (and its Parquet) differ from another's. */
function loans(n: number, seed = 0): string {
  const rows = Array.from({ length: n }, (_, i) => `L${i + 1},${((i * 37 + seed) % 9000) + 100},${'ABCD'[(i + seed) % 4]}`);
  return ['loan_id,amount,grade', ...rows].join('\n') + '\n';
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('certified Parquet download [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let steward: Principal;
  let promoter: Principal;
  let scientist: Principal;
  let clearedScientist: Principal;
  let auditor: Principal;
  const certified = new Map<string, DatasetVersionRecord>();

  const get = (who: Principal | string, path: string, method: 'GET' | 'HEAD' = 'GET') =>
    fetch(`${base}/api/v1/datasets/${path}`, { method, headers: { authorization: `Bearer ${typeof who === 'string' ? who : who.token}` } });
  const downloads = async () => listAuditEntries(t.db, { action: DATASET_DOWNLOAD_ACTION });
  const incomplete = async () => listAuditEntries(t.db, { action: DATASET_DOWNLOAD_INCOMPLETE_ACTION });
  const blobPath = (hash: string) => join(t.deps.config.paths.blobs, 'sha256', hash.slice(0, 2), hash.slice(2, 4), hash);

  async function ingestAndCertify(name: string, body: string, query: Record<string, string>): Promise<void> {
    const res = await upload(t, { name, body, token: steward.token, query: { owner: 'steward', ...query } });
    expect(res.statusCode, res.body).toBe(201);
    const promoted = await fetch(`${base}/api/v1/datasets/${name}/versions/1/promote`, { method: 'POST', headers: { authorization: `Bearer ${promoter.token}` } });
    expect(promoted.status, await promoted.clone().text()).toBe(200);
    certified.set(name, ((await promoted.json()) as { version: DatasetVersionRecord }).version);
  }

  let client: Principal;
  const siteDir = mkdtempSync(join(tmpdir(), 'assay-download-site-'));

  beforeAll(async () => {
    // A site that lets an application fetch certified files without reading version metadata.
    writeFileSync(
      join(siteDir, 'feeds.cedar'),
      '@id("site.feed-downloads")\npermit (principal in Assay::Role::"app-client", action == Assay::Action::"downloadCertifiedDataset", resource);\n',
    );
    t = await createTestApp(backend, { policy: await loadPolicyEngine({ siteDir }) });
    client = await createPrincipalWithToken(t.db, { name: 'feed', roles: ['app-client'], kind: 'service' });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'], attributes: { clearance: ['pii'] } });
    promoter = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'], attributes: { clearance: ['pii'] } });
    scientist = await createPrincipalWithToken(t.db, { name: 'sci', roles: ['data-scientist'] });
    clearedScientist = await createPrincipalWithToken(t.db, { name: 'pii-sci', roles: ['data-scientist'], attributes: { clearance: ['pii'] } });
    auditor = await createPrincipalWithToken(t.db, { name: 'aud', roles: ['auditor'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
    await ingestAndCertify('loans', loans(300), { classification: 'internal' });
    // Version 2 stays in quarantine.
    expect((await upload(t, { name: 'loans', body: loans(10, 5), token: steward.token })).statusCode).toBe(201);
    await ingestAndCertify('patients', 'patient_id,age\nP-1001,41\nP-1002,67\nP-1003,35\n', { classification: 'PII', subjectIdColumn: 'patient_id' });
    // A feature table built from it, with no subject index of its own: an erasure request reaches it through lineage.
    await ingestAndCertify('patient-features', 'age_band,n\n30-49,2\n60-69,1\n', { classification: 'PII', derivedFrom: 'patients@1', codeSha256: 'c'.repeat(64) });
    await ingestAndCertify('fragile', loans(40, 11), { classification: 'internal' });
  });
  afterAll(async () => {
    await t?.close();
    rmSync(siteDir, { recursive: true, force: true });
  });

  it("streams the certified bytes with their headers: equal to the blob, hashing to the manifest's digest, readable by DuckDB; the access is audited", async () => {
    const v = certified.get('loans')!;
    const before = (await downloads()).length;
    const res = await get(scientist, 'loans/versions/1/parquet');
    expect(res.status).toBe(200);
    const bytes = Buffer.from(await res.arrayBuffer());
    const hash = v.certified!.parquetSha256;
    expect(bytes.equals(await t.deps.blobs.getBytes(hash))).toBe(true);
    expect(Object.fromEntries(['content-type', 'content-length', 'etag', 'content-digest', 'content-disposition', 'cache-control', 'assay-erasure-requests'].map((h) => [h, res.headers.get(h)]))).toEqual({
      'content-type': 'application/vnd.apache.parquet',
      'content-length': String(bytes.length),
      etag: `"${hash}"`,
      'content-digest': `sha-256=:${createHash('sha256').update(bytes).digest('base64')}:`,
      'content-disposition': 'attachment; filename="loans-v1.parquet"',
      'cache-control': 'private, no-store',
      'assay-erasure-requests': '0',
    });
    // The digest the signed manifest names for the Parquet subject.
    const envelope = (await (await get(scientist, 'loans/versions/1/manifest')).json()) as DsseEnvelope;
    const statement = verifyDatasetManifest(envelope, (keyid) => t.keyring.publicKey(keyid));
    expect(statement.subject[0]).toEqual({ name: 'loans@1.parquet', digest: { sha256: sha256(bytes) } });
    expect(statement.predicate.certified.sha256).toBe(sha256(bytes));
    const dir = await mkdtemp(join(tmpdir(), 'assay-download-'));
    try {
      await writeFile(join(dir, 'loans.parquet'), bytes);
      expect(await duckRows(`SELECT count(*)::INTEGER AS n, max(loan_id) AS last FROM read_parquet('${join(dir, 'loans.parquet')}')`)).toEqual([{ n: 300, last: 'L99' }]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }

    const entries = (await downloads()).filter((e) => e.requestId === res.headers.get('x-request-id'));
    expect((await downloads()).length).toBe(before + 1);
    expect(entries).toEqual([
      expect.objectContaining({
        action: 'dataset.download',
        actor: expect.objectContaining({ principalId: scientist.id }),
        resource: { type: 'dataset_version', id: v.id },
        decision: { effect: 'allowed', policyIds: [] },
        outcome: 'succeeded',
      }),
    ]);
    expect(entries[0]!.reason).toBe(`loans v1 certified Parquet handed out: sha256:${hash}, ${bytes.length} bytes, 300 rows (dataset ${v.datasetId}, version ${v.id})`);
  });

  it('HEAD answers the same headers without a body, reading nothing and recording no download', async () => {
    const before = (await downloads()).length;
    const res = await get(scientist, 'loans/versions/1/parquet', 'HEAD');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/vnd.apache.parquet');
    expect(res.headers.get('etag')).toBe(`"${certified.get('loans')!.certified!.parquetSha256}"`);
    expect(Number(res.headers.get('content-length'))).toBe((await t.deps.blobs.getBytes(certified.get('loans')!.certified!.parquetSha256)).length);
    expect((await res.arrayBuffer()).byteLength).toBe(0);
    expect((await downloads()).length).toBe(before);
    // HEAD is decided like GET: a role that may not download is refused there too.
    expect((await get(auditor, 'loans/versions/1/parquet', 'HEAD')).status).toBe(403);
  });

  it('409 for a version in quarantine, naming params.version and its state; 404 for an unknown dataset or version; nothing recorded', async () => {
    const before = (await downloads()).length;
    const quarantined = await get(scientist, 'loans/versions/2/parquet');
    expect(quarantined.status).toBe(409);
    expect(quarantined.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(quarantined.headers.get('etag')).toBeNull();
    expect(await quarantined.json()).toMatchObject({ code: 'conflict', detail: expect.stringContaining('state: quarantine'), errors: [{ field: 'params.version', detail: 'not certified (state: quarantine)' }] });
    for (const path of ['loans/versions/3/parquet', 'no-such-data/versions/1/parquet']) {
      const res = await get(scientist, path);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    expect((await get(scientist, 'loans/versions/one/parquet')).status).toBe(400);
    // A caller that may download but not read the version (getDatasetVersion) learns nothing of versions in quarantine.
    const hidden = await get(client, 'loans/versions/2/parquet');
    expect(hidden.status).toBe(404);
    expect(await hidden.json()).toMatchObject({ code: 'not_found', detail: 'dataset version loans@2 not found' });
    expect((await get(client, 'loans/versions/1/parquet', 'HEAD')).status).toBe(200);
    expect((await downloads()).length).toBe(before);
  });

  it('403 for a role the default pack does not permit (auditor, administrator) and for a PII dataset without the clearance; 200 with it', async () => {
    const before = (await downloads()).length;
    for (const who of [auditor, { id: t.adminId, token: t.adminToken }]) {
      const res = await get(who, 'loans/versions/1/parquet');
      expect(res.status).toBe(403);
      expect(await res.json()).toMatchObject({ code: 'forbidden', detail: expect.stringContaining('data.download-certified') });
    }
    const uncleared = await get(scientist, 'patients/versions/1/parquet');
    expect(uncleared.status).toBe(403);
    const refusal = (await uncleared.json()) as Record<string, unknown>;
    expect(refusal).toMatchObject({ detail: expect.stringContaining('data.clearance-for-sensitive') });
    // The same refusal for a version that does not exist: nothing learnt of the PII dataset's versions.
    const missing = (await (await get(scientist, 'patients/versions/9/parquet')).json()) as Record<string, unknown>;
    expect({ ...missing, requestId: '', instance: '' }).toEqual({ ...refusal, requestId: '', instance: '' });
    expect((await decisionsOf(t.db, scientist.id, 'denied')).at(-1)).toMatchObject({ resource: { id: 'downloadCertifiedDataset' }, decision: { policyIds: ['data.clearance-for-sensitive'] } });
    expect((await downloads()).length).toBe(before);

    const cleared = await get(clearedScientist, 'patients/versions/1/parquet');
    expect(cleared.status).toBe(200);
    expect(sha256(Buffer.from(await cleared.arrayBuffer()))).toBe(certified.get('patients')!.certified!.parquetSha256);
    expect((await downloads()).at(-1)).toMatchObject({ actor: { principalId: clearedScientist.id }, resource: { id: certified.get('patients')!.id } });
  });

  it('a token covers it by `read` or by its operation id; a token narrowed to another operation does not', async () => {
    const ctx = { actor: { principalId: 'system', kind: 'system', authenticatedBy: 'system' } as const };
    const scoped = async (scopes: string[]) =>
      (await issueToken(t.db, { principalId: scientist.id, name: scopes.join('+'), scopes, scopeRules: { operationIds: ['downloadCertifiedDataset', 'getDatasetVersion'] } }, ctx)).token;
    expect((await get(await scoped(['downloadCertifiedDataset']), 'loans/versions/1/parquet')).status).toBe(200);
    expect((await get(await scoped(['read']), 'loans/versions/1/parquet')).status).toBe(200);
    const narrowed = await get(await scoped(['getDatasetVersion']), 'loans/versions/1/parquet');
    expect(narrowed.status).toBe(403);
    expect(await narrowed.json()).toMatchObject({ detail: expect.stringContaining('do not cover downloadCertifiedDataset') });
  });

  it('Assay-Erasure-Requests counts the erasure requests that reached the version; the file is still served', async () => {
    const filed = await fetch(`${base}/api/v1/erasure-requests`, {
      method: 'POST',
      headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subjectId: 'P-1002', reason: 'Art. 17(1)(b): consent withdrawn, ticket DSR-1' }),
    });
    expect(filed.status, await filed.clone().text()).toBe(201);
    const res = await get(clearedScientist, 'patients/versions/1/parquet');
    expect(res.status).toBe(200);
    expect(res.headers.get('assay-erasure-requests')).toBe('1');
    await res.arrayBuffer();
    expect((await get(clearedScientist, 'patients/versions/1/parquet', 'HEAD')).headers.get('assay-erasure-requests')).toBe('1');
    expect((await downloads()).at(-1)!.reason).toMatch(/; 1 erasure requests reached it$/);
    expect((await get(clearedScientist, 'patient-features/versions/1/parquet', 'HEAD')).headers.get('assay-erasure-requests')).toBe('1');
    // A request that reached no version leaves other versions' count alone.
    expect((await get(scientist, 'loans/versions/1/parquet', 'HEAD')).headers.get('assay-erasure-requests')).toBe('0');
  });

  it('nothing is sent when the download cannot be recorded', async () => {
    await t.db.query(`CREATE FUNCTION refuse_download() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.action = 'dataset.download' THEN RAISE EXCEPTION 'audit log unavailable'; END IF; RETURN NEW; END $$`);
    await t.db.query('CREATE TRIGGER refuse_download BEFORE INSERT ON audit_entries FOR EACH ROW EXECUTE FUNCTION refuse_download()');
    try {
      const before = (await downloads()).length;
      const res = await get(scientist, 'loans/versions/1/parquet');
      expect(res.status).toBe(500);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('etag')).toBeNull();
      expect(await res.json()).toMatchObject({ code: 'internal' });
      expect((await downloads()).length).toBe(before);
    } finally {
      await t.db.query('DROP TRIGGER refuse_download ON audit_entries');
      await t.db.query('DROP FUNCTION refuse_download()');
    }
  });

  it('a blob missing from the store is a 500 saying so, not a 404, and records nothing', async () => {
    const hash = certified.get('fragile')!.certified!.parquetSha256;
    const before = (await downloads()).length;
    renameSync(blobPath(hash), `${blobPath(hash)}.away`);
    try {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await get(scientist, 'fragile/versions/1/parquet', method);
        expect(res.status, method).toBe(500);
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      }
      const res = await get(scientist, 'fragile/versions/1/parquet');
      expect(await res.json()).toMatchObject({ code: 'integrity_violation', detail: expect.stringContaining(`fragile v1 (sha256:${hash}) is missing from the blob store`) });
      expect((await downloads()).length).toBe(before);
      // Removed between the lookup (its size) and the read: the same answer.
      const real = t.deps.blobs;
      t.deps.blobs = { ...real, size: async () => 1234 };
      try {
        const raced = await get(scientist, 'fragile/versions/1/parquet');
        expect(raced.status).toBe(500);
        expect(await raced.json()).toMatchObject({ code: 'integrity_violation', detail: expect.stringContaining('is missing from the blob store') });
      } finally {
        t.deps.blobs = real;
      }
      expect((await downloads()).length).toBe(before);
    } finally {
      renameSync(`${blobPath(hash)}.away`, blobPath(hash));
    }
  });

  it('a blob damaged on disk after promotion is never delivered whole: a 500 before the first byte, or a body cut short of its Content-Length', async () => {
    const hash = certified.get('fragile')!.certified!.parquetSha256;
    const good = readFileSync(blobPath(hash));
    try {
      // One byte changed, same length: the blob fits in one read, so the mismatch is known before anything is sent.
      const flipped = Buffer.from(good);
      flipped[Math.floor(flipped.length / 2)]! ^= 0xff;
      writeFileSync(blobPath(hash), flipped);
      const small = await get(scientist, 'fragile/versions/1/parquet');
      expect(small.status).toBe(500);
      expect(small.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(small.headers.get('content-digest')).toBeNull();
      expect(await small.json()).toMatchObject({ code: 'integrity_violation' });

      // Replaced by 3 MiB that hash to something else: streamed in several reads, the last withheld and the connection cut.
      const large = Buffer.concat([good, Buffer.alloc(3 * 1024 * 1024, 7)]);
      writeFileSync(blobPath(hash), large);
      const res = await get(scientist, 'fragile/versions/1/parquet');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-length')).toBe(String(large.length));
      let received = 0;
      const read = (async () => {
        for await (const chunk of res.body!) received += (chunk as Uint8Array).length;
      })();
      await expect(read).rejects.toThrow();
      expect(received).toBeLessThan(large.length);

      // Each access was recorded before a byte could leave; each is followed by what became of it, and the damage raises an alert.
      const v = certified.get('fragile')!;
      const small_ = { id: small.headers.get('x-request-id'), size: flipped.length, actual: sha256(flipped) };
      const large_ = { id: res.headers.get('x-request-id'), size: large.length, actual: sha256(large) };
      const after = await eventually(async () => {
        const entries = (await incomplete()).filter((e) => e.requestId === small_.id || e.requestId === large_.id);
        return entries.length === 2 ? entries : undefined;
      });
      for (const [entry, cut] of [[after.find((e) => e.requestId === small_.id)!, small_], [after.find((e) => e.requestId === large_.id)!, large_]] as const) {
        expect(entry).toMatchObject({ actor: { principalId: scientist.id }, resource: { type: 'dataset_version', id: v.id }, outcome: 'failed' });
        const [, sent, of] = /cut off after (\d+) of (\d+) bytes/.exec(entry.reason!)!;
        expect(Number(of)).toBe(cut.size);
        expect(Number(sent)).toBeLessThan(cut.size);
        expect(entry.reason).toBe(`fragile v1 certified Parquet download cut off after ${sent} of ${cut.size} bytes: the stored bytes no longer hash to sha256:${hash} (they hash to sha256:${cut.actual})`);
      }
      expect(Number(/after (\d+) of/.exec(after.find((e) => e.requestId === small_.id)!.reason!)![1])).toBe(0);
      const alerts = (await listAuditEntries(t.db, { action: 'alert.raise' })).filter((e) => e.requestId === small_.id || e.requestId === large_.id);
      expect(alerts).toHaveLength(2);
      expect(alerts[0]!.reason).toBe(`${CERTIFIED_BLOB_CORRUPT_EVENT}: fragile v1 certified Parquet sha256:${hash} is damaged in the blob store; restore it from backup (the signed manifest names its digest)`);
    } finally {
      writeFileSync(blobPath(hash), good);
    }
    // Restored: served whole again, and nothing more is recorded of it than the access.
    const again = await get(scientist, 'fragile/versions/1/parquet');
    expect(sha256(Buffer.from(await again.arrayBuffer()))).toBe(hash);
    expect((await downloads()).some((e) => e.requestId === again.headers.get('x-request-id'))).toBe(true);
    expect((await incomplete()).some((e) => e.requestId === again.headers.get('x-request-id'))).toBe(false);
  });

  it('a download the client abandons is recorded as cut off after the bytes that had left, with no alert', async () => {
    const hash = certified.get('loans')!.certified!.parquetSha256;
    const bytes = await t.deps.blobs.getBytes(hash);
    const real = t.deps.blobs;
    // Stands in for a slow disk or object store: the first two chunks, then nothing until the client gives up.
    t.deps.blobs = {
      ...real,
      get: async () => {
        const slow = new Readable({ read() {} });
        slow.push(bytes.subarray(0, 1000));
        slow.push(bytes.subarray(1000, 2000));
        return slow;
      },
    };
    try {
      const abort = new AbortController();
      const res = await fetch(`${base}/api/v1/datasets/loans/versions/1/parquet`, { headers: { authorization: `Bearer ${scientist.token}` }, signal: abort.signal });
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      // The first chunk is released once the second arrived; the second is held back until a third (or the end).
      let received = 0;
      while (received < 1000) received += (await reader.read()).value!.length;
      expect(received).toBe(1000);
      abort.abort();
      const id = res.headers.get('x-request-id');
      const [entry] = await eventually(async () => {
        const entries = (await incomplete()).filter((e) => e.requestId === id);
        return entries.length > 0 ? entries : undefined;
      });
      expect(entry).toMatchObject({ actor: { principalId: scientist.id }, outcome: 'failed' });
      expect(entry!.reason).toBe(`loans v1 certified Parquet download cut off after 1000 of ${bytes.length} bytes: the connection closed first (the client went away or timed out)`);
      expect((await listAuditEntries(t.db, { action: 'alert.raise' })).filter((e) => e.requestId === id)).toEqual([]);
    } finally {
      t.deps.blobs = real;
    }
  });
});
