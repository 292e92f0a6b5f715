import { spawnSync } from 'node:child_process';
import { createHash, generateKeyPairSync, randomInt, sign } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appendAuditEntry,
  dbBundleSource,
  exportAuditBundle,
  parseBundleTime,
  readLeaves,
  sequenceBatch,
  signCheckpoint,
  verifierKey,
  verifyAuditBundle,
  type BundleManifest,
  type BundleSource,
  type BundleVerifyReport,
} from '../../src/audit/index.js';
import { CHUNK_LEAVES, TileFold } from '../../src/audit/bundle/format.js';
import { ed25519RawPublicKey, newId } from '../../src/core/index.js';
import type { Queryable } from '../../src/store/index.js';
import { createTestApp, type TestApp } from '../support/app.js';
import { randomEntry } from '../support/audit-entries.js';
import { verifyCheckpointNote } from '../support/c2sp-note-verifier.js';
import { eachBackend } from '../support/databases.js';
import { rfcLeafHash, rfcNodeHash, rfcVerifyConsistency, rfcVerifyInclusion } from '../support/rfc9162-verifier.js';

const BEFORE = 300;
const DURING = 900;
const AFTER = 150;

const work = mkdtempSync(join(tmpdir(), 'assay-bundle-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let fileNo = 0;
const outFile = (name = 'bundle.tar'): string => join(work, `${++fileNo}-${name}`);

/** The members of a tar (gzipped or not), in order, with their bytes. */
async function readTar(file: string): Promise<Array<{ name: string; data: Buffer }>> {
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  const extract = tar.extract();
  extract.end(bytes);
  const members: Array<{ name: string; data: Buffer }> = [];
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    members.push({ name: entry.header.name, data: Buffer.concat(chunks) });
  }
  return members;
}

async function writeTar(file: string, members: Array<{ name: string; data: Buffer }>): Promise<void> {
  const pack = tar.pack();
  for (const m of members) pack.entry({ name: m.name, size: m.data.length }, m.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const c of pack) chunks.push(c as Buffer);
  writeFileSync(file, Buffer.concat(chunks));
}

/** Copies `bundle` with the member called `name` rewritten by `edit`; returns the new file. */
async function tampered(bundle: string, name: string, edit: (data: Buffer) => Buffer): Promise<string> {
  const members = await readTar(bundle);
  const target = members.find((m) => m.name.endsWith(`/${name}`));
  if (!target) throw new Error(`no member ${name}`);
  target.data = edit(target.data);
  const file = outFile('tampered.tar');
  await writeTar(file, members);
  return file;
}

const editLines = (edit: (lines: string[]) => string[]) => (data: Buffer): Buffer => {
  const lines = data.toString('utf8').split('\n').slice(0, -1);
  return Buffer.from(edit(lines).map((l) => l + '\n').join(''), 'utf8');
};

/** Waits until the database clock has entered a later millisecond and returns that millisecond (ISO). */
async function nextMillisecond(db: Queryable): Promise<string> {
  const now = async (): Promise<number> => Date.parse((await db.query<{ t: string }>('SELECT clock_timestamp() AS t')).rows[0]!.t);
  const boundary = (await now()) + 1;
  while ((await now()) < boundary);
  return new Date(boundary).toISOString();
}

/** `source`, noting whether the export asked it for the window's span (its first read of the log). */
function watchingSpan(source: BundleSource): { watched: BundleSource; asked: () => boolean } {
  let asked = false;
  const watched: BundleSource = {
    ...source,
    findSpan: async (w) => {
      asked = true;
      return source.findSpan(w);
    },
  };
  return { watched, asked: () => asked };
}

function problemOf(report: BundleVerifyReport): { kind: string; index?: number; file?: string } {
  if (report.ok) throw new Error('expected the bundle to fail verification');
  const { kind, index, file } = report.problem;
  return { kind, ...(index === undefined ? {} : { index }), ...(file === undefined ? {} : { file }) };
}

describe('parseBundleTime', () => {
  it.each([
    ['2026-01-31', '2026-01-31T00:00:00.000Z'],
    ['2026-01-31T08:30', '2026-01-31T08:30:00.000Z'],
    ['2026-01-31T08:30:05.5Z', '2026-01-31T08:30:05.500Z'],
    ['2026-01-31T08:30:05+02:00', '2026-01-31T06:30:05.000Z'],
  ])('%s → %s', (text, iso) => expect(parseBundleTime(text)).toBe(iso));

  it.each(['yesterday', '2026-02-30', '2026-01-31T24:00', '2026-01-31T08:30:05.1234Z', '31/01/2026'])('rejects %s', (text) => {
    expect(() => parseBundleTime(text)).toThrow(/ISO-8601|valid calendar/);
  });
});

describe('TileFold', () => {
  it('rebuilds the RFC 9162 root of every size from any tiling by tree nodes', () => {
    for (let size = 1; size <= 40; size++) {
      const hashes = Array.from({ length: size }, (_, i) => rfcLeafHash(Buffer.from(`leaf ${i}`)));
      const mth = (a: number, b: number): Buffer => {
        if (b - a === 1) return hashes[a]!;
        let k = 1;
        while (k * 2 < b - a) k *= 2;
        return rfcNodeHash(mth(a, a + k), mth(a + k, b));
      };
      // Random tiles: at each position, any aligned power of two that fits, or the rest of the
      // tree when that is a node of it (a right-edge node, as the last right sibling can be).
      const fold = new TileFold();
      for (let p = 0; p < size; ) {
        const rest = size - p;
        let span = 1;
        while (span < rest) span *= 2;
        const widths = [1, 2, 4, 8, 16, 32].filter((w) => p % w === 0 && p + w <= size);
        if (p % span === 0) widths.push(rest);
        const w = widths[randomInt(widths.length)]!;
        fold.push(w, mth(p, p + w));
        p += w;
      }
      expect(fold.root()!.equals(mth(0, size)), `size ${size}`).toBe(true);
    }
    const misaligned = new TileFold();
    misaligned.push(1, Buffer.alloc(32));
    expect(() => misaligned.push(2, Buffer.alloc(32))).toThrow(RangeError);
    const closed = new TileFold();
    closed.push(3, Buffer.alloc(32)); // the whole of a tree of 3 leaves
    expect(() => closed.push(1, Buffer.alloc(32))).toThrow(RangeError);
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('audit bundle [%s]', (_name, backend) => {
  let t: TestApp;
  let source: BundleSource;
  let from = '';
  let to = '';
  let late = -1; // index of the entry recorded before the window but sequenced inside it
  let bundle = '';
  let manifest: BundleManifest;
  const readsSeen: number[] = [];

  const append = async (first: number, n: number): Promise<void> => {
    for (let done = 0; done < n; ) {
      const k = Math.min(n - done, 1 + randomInt(120));
      await t.db.transaction(async (tx) => {
        for (let i = 0; i < k; i++) await appendAuditEntry(tx, randomEntry(first + done + i));
      });
      done += k;
      await sequenceBatch(t.db, { key: t.keyring.active(), maxBatch: 1 + randomInt(200) });
    }
    while ((await sequenceBatch(t.db, { key: t.keyring.active() })).sequenced > 0);
  };

  beforeAll(async () => {
    t = await createTestApp(backend);
    await append(0, BEFORE);
    from = await nextMillisecond(t.db);
    await append(BEFORE, DURING / 2);
    // An entry whose transaction began before the window and committed inside it: recorded
    // before `from`, sequenced among the window's entries.
    await t.db.transaction(async (tx) => {
      await tx.query(
        `WITH e AS (INSERT INTO audit_entries (id, recorded_at, actor, action, resource, decision, outcome)
           VALUES ($1, $2::timestamptz - interval '1 second', '{"principalId":"prn_late","kind":"human","authenticatedBy":"api_token"}',
                   'dataset.ingest', '{"type":"thing","id":"late"}', '{"effect":"allowed","policyIds":[]}', 'succeeded') RETURNING id)
         INSERT INTO audit_pending (entry_id) SELECT id FROM e`,
        [newId('aud'), from],
      );
    });
    await sequenceBatch(t.db, { key: t.keyring.active() });
    late = (await t.db.query<{ idx: number }>(`SELECT l.idx FROM audit_leaves l JOIN audit_entries e ON e.id = l.entry_id WHERE e.resource->>'id' = 'late'`)).rows[0]!.idx;
    await append(BEFORE + DURING / 2, DURING / 2);
    to = await nextMillisecond(t.db);
    await append(BEFORE + DURING, AFTER);

    const db = dbBundleSource({ db: t.db, publicKeys: t.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')) });
    source = {
      ...db,
      readLeaves: async (range) => {
        readsSeen.push(range.end - range.start);
        return db.readLeaves(range);
      },
    };
    bundle = outFile();
    manifest = (await exportAuditBundle({ source, window: { from, to }, out: bundle, exportedVia: 'database' })).manifest;
  }, 180_000);
  afterAll(async () => t?.close());

  it('exports the span of the window, marks the entry recorded outside it, and reads the log in bounded chunks', async () => {
    const firstIdx = 2 + BEFORE; // two bootstrap entries come first
    expect(manifest.span).toEqual({ start: firstIdx, end: firstIdx + DURING + 1 });
    expect(manifest.window).toEqual({ from, to, entries: DURING, outside: [[late, late + 1]], unsequenced: 0 });
    expect(late).toBeGreaterThan(manifest.span.start);
    expect(manifest.checkpoint.size).toBe(2 + BEFORE + DURING + 1 + AFTER);
    expect(manifest.earliestCheckpoint!.size).toBeGreaterThanOrEqual(manifest.span.end);
    expect(manifest.earliestCheckpoint!.size).toBeLessThan(manifest.checkpoint.size);
    expect(Math.max(...readsSeen)).toBeLessThanOrEqual(CHUNK_LEAVES);
    expect(readsSeen.length).toBeGreaterThan(1);
    const names = (await readTar(bundle)).map((m) => m.name);
    expect(names).toEqual([
      'README.md', 'manifest.json', 'verify.py', 'public-key.txt', 'checkpoint.txt', 'range-proof.json',
      'earliest-checkpoint.txt', 'consistency-proof.json', 'leaves.jsonl', 'inclusion-proofs.jsonl',
    ].map((n) => `${basename(bundle, '.tar')}/${n}`));
    expect(readdirSync(work).filter((n) => n.startsWith('.assay-bundle-'))).toEqual([]);
  });

  it('verifies offline, trusting its own key unless one is given', async () => {
    const self = await verifyAuditBundle({ path: bundle });
    expect(self).toMatchObject({ ok: true, keyTrusted: 'bundle', key: manifest.key, span: manifest.span, leaves: DURING + 1 });
    expect(self).toMatchObject({ earliestCheckpointSize: manifest.earliestCheckpoint!.size, window: { entries: DURING } });
    const given = await verifyAuditBundle({ path: bundle, publicKey: manifest.key });
    expect(given).toMatchObject({ ok: true, keyTrusted: 'given' });
  });

  it('holds the exact leaf bytes of the log, and passes an independent RFC 9162 / C2SP check (the README procedure)', async () => {
    const files = new Map((await readTar(bundle)).map((m) => [m.name.split('/').pop()!, m.data]));
    const key = files.get('public-key.txt')!.toString().trim();
    expect(key).toBe(verifierKey(manifest.origin, t.keyring.active().publicKey));
    const anchor = verifyCheckpointNote(files.get('checkpoint.txt')!.toString(), key);
    expect(anchor).toMatchObject({ origin: manifest.origin, size: manifest.checkpoint.size });

    const lines = files.get('leaves.jsonl')!.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    const proofs = files.get('inclusion-proofs.jsonl')!.toString('utf8').trim().split('\n').map((l) => JSON.parse(l) as { index: number; proof: string[] });
    const { start, end } = manifest.span;
    const stored = [];
    for (let i = start; i < end; i += 1000) stored.push(...(await readLeaves(t.db, { start: i, end: Math.min(end, i + 1000) })));
    expect(lines.map((l) => Buffer.from(l, 'utf8'))).toEqual(stored);

    // Step 4 of the README: MTH by the RFC's recursion, with the listed ranges and the leaves standing for their hashes.
    const known = new Map<string, Buffer>();
    const rp = JSON.parse(files.get('range-proof.json')!.toString()) as { left: Array<{ start: number; end: number; hash: string }>; right: typeof rp.left };
    for (const r of [...rp.left, ...rp.right]) known.set(`${r.start}:${r.end}`, Buffer.from(r.hash, 'base64'));
    lines.forEach((l, k) => {
      expect((JSON.parse(l) as { index: number }).index).toBe(start + k);
      known.set(`${start + k}:${start + k + 1}`, rfcLeafHash(Buffer.from(l, 'utf8')));
    });
    const mth = (a: number, b: number): Buffer => {
      const hit = known.get(`${a}:${b}`);
      if (hit) return hit;
      if (b - a === 1) throw new Error(`no hash for leaf ${a}`);
      let k = 1;
      while (k * 2 < b - a) k *= 2;
      return rfcNodeHash(mth(a, a + k), mth(a + k, b));
    };
    expect(mth(0, anchor.size).equals(anchor.root)).toBe(true);

    // Step 5: every inclusion proof, by RFC 9162 §2.1.3.2.
    proofs.forEach((p, k) => {
      expect(p.index).toBe(start + k);
      const ok = rfcVerifyInclusion({
        leafIndex: p.index,
        treeSize: anchor.size,
        leafHash: rfcLeafHash(Buffer.from(lines[k]!, 'utf8')),
        inclusionPath: p.proof.map((h) => Buffer.from(h, 'base64')),
        rootHash: anchor.root,
      });
      if (!ok) expect.fail(`inclusion proof of ${p.index}`);
    });

    // Step 6: the earliest checkpoint covering the span is a prefix of the anchor.
    const early = verifyCheckpointNote(files.get('earliest-checkpoint.txt')!.toString(), key);
    const cons = JSON.parse(files.get('consistency-proof.json')!.toString()) as { from: number; to: number; proof: string[] };
    expect(early.size).toBeGreaterThanOrEqual(end);
    expect(
      rfcVerifyConsistency({ first: early.size, second: anchor.size, firstHash: early.root, secondHash: anchor.root, consistencyPath: cons.proof.map((h) => Buffer.from(h, 'base64')) }),
    ).toBe(true);

    // Step 1: the manifest's digests.
    for (const [name, d] of Object.entries(manifest.files)) {
      expect(createHash('sha256').update(files.get(name)!).digest('hex'), name).toBe(d.sha256);
    }
  });

  const python = spawnSync('python3', ['--version']).status === 0;
  const systemTar = spawnSync('tar', ['--version']).status === 0;
  const openssl = spawnSync('openssl', ['version']).status === 0;

  // The interpreter itself (python3 on the PATH may be a shim that needs the PATH), to run it with none.
  const python3 = python ? spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).stdout.trim() : '';
  // `python3 -S` skips site-packages: the standard library alone, as on an examiner's bare machine.
  const bareHasEd25519 = python && ['nacl', 'cryptography'].some((m) => spawnSync(python3, ['-S', '-c', `import ${m}`]).status === 0);
  const extracted = (name: string): string => {
    const dir = join(work, `${name}-${backend.name}`);
    mkdirSync(dir);
    expect(spawnSync('tar', ['-xf', bundle, '-C', dir]).status).toBe(0);
    return join(dir, readdirSync(dir)[0]!);
  };
  /** verify.py with only the standard library and no `openssl` on the PATH: no Ed25519 anywhere. */
  const runBare = (folder: string): ReturnType<typeof spawnSync> =>
    spawnSync(python3, ['-S', join(folder, 'verify.py'), folder, '--public-key', manifest.key], { encoding: 'utf8', env: { PATH: join(work, 'no-such-bin') } });

  it.skipIf(!python || !systemTar)('verify.py (Python standard library) accepts the bundle and refuses a changed leaf', () => {
    const folder = extracted('py');
    const r = spawnSync('python3', [join(folder, 'verify.py'), folder, '--public-key', manifest.key], { encoding: 'utf8' });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('PASS');
    expect(r.stdout).toContain(`leaves ${manifest.span.start}..${manifest.span.end - 1}`);
    if (!bareHasEd25519) {
      // With no Ed25519 verifier at all the script proves nothing about the signatures: never PASS.
      const bare = runBare(folder);
      expect(bare.status, String(bare.stdout)).toBe(2);
      expect(bare.stdout).toContain('INCOMPLETE');
      expect(bare.stdout).not.toContain('PASS');
      if (openssl) {
        // It leaves the signatures to OpenSSL: run the commands it printed.
        const commands = String(bare.stdout).split('\n').filter((l) => l.trim().startsWith('openssl pkeyutl'));
        expect(commands.length).toBe(2);
        for (const c of commands) {
          const v = spawnSync('sh', ['-c', c.trim()], { encoding: 'utf8' });
          expect(v.stdout + v.stderr).toContain('Signature Verified Successfully');
        }
        // …and OpenSSL refuses the signature over other bytes.
        const sigDir = join(folder, 'signature-check');
        writeFileSync(join(sigDir, 'checkpoint.text'), readFileSync(join(sigDir, 'checkpoint.text'), 'utf8').replace(/\n\d+\n/, '\n1\n'));
        const bad = spawnSync('sh', ['-c', commands[0]!.trim()], { encoding: 'utf8' });
        expect(bad.status).not.toBe(0);
      }
    }
    // Another key of the same log (as after a key rotation) is refused, saying where the bundle's key may be listed.
    const rotated = verifierKey(manifest.origin, ed25519RawPublicKey(generateKeyPairSync('ed25519').publicKey));
    const other = spawnSync('python3', [join(folder, 'verify.py'), folder, '--public-key', rotated], { encoding: 'utf8' });
    expect(other.status).toBe(1);
    expect(other.stdout).toContain('if its key was rotated since the bundle was signed');
    expect(other.stdout).toContain('GET /api/v1/audit/public-keys');
    const leaves = join(folder, 'leaves.jsonl');
    writeFileSync(leaves, readFileSync(leaves, 'utf8').replace('"action":"', '"action":"x'));
    const bad = spawnSync('python3', [join(folder, 'verify.py'), folder], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('FAIL: leaves.jsonl does not match its SHA-256');
    // With the (unsigned) manifest's digest forged to match, the Merkle checks still catch it.
    const m = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as BundleManifest;
    m.files['leaves.jsonl']!.sha256 = createHash('sha256').update(readFileSync(leaves)).digest('hex');
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(m));
    const caught = spawnSync('python3', [join(folder, 'verify.py'), folder], { encoding: 'utf8' });
    expect(caught.status).toBe(1);
    expect(caught.stdout).toContain(`FAIL: the inclusion proof of leaf ${manifest.span.start} does not verify`);
  });

  it.skipIf(!python || !systemTar)('verify.py never passes a checkpoint whose signature is forged, with whatever Ed25519 it finds', () => {
    const folder = extracted('py-forged');
    // The attacker keeps the key id and flips one bit of the signature, then fixes the
    // unsigned manifest's digest: only the signature check can catch it.
    const file = join(folder, 'checkpoint.txt');
    const note = readFileSync(file, 'utf8');
    const cut = note.lastIndexOf('\n\n') + 2;
    const [line, ...rest] = note.slice(cut).split('\n');
    const at = line!.lastIndexOf(' ') + 1;
    const sig = Buffer.from(line!.slice(at), 'base64');
    sig[10]! ^= 1;
    writeFileSync(file, note.slice(0, cut) + [line!.slice(0, at) + sig.toString('base64'), ...rest].join('\n'));
    const m = JSON.parse(readFileSync(join(folder, 'manifest.json'), 'utf8')) as BundleManifest;
    m.files['checkpoint.txt']!.sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    writeFileSync(join(folder, 'manifest.json'), JSON.stringify(m));

    const r = spawnSync('python3', [join(folder, 'verify.py'), folder, '--public-key', manifest.key], { encoding: 'utf8' });
    if (r.status === 2) {
      expect(openssl).toBe(false); // left to the examiner only when this machine has no Ed25519 at all
    } else {
      expect(r.status, r.stdout).toBe(1);
      expect(r.stdout).toContain('FAIL: checkpoint: the Ed25519 signature does not verify');
    }
    expect(r.stdout).not.toContain('PASS');
    if (!bareHasEd25519) {
      if (openssl) {
        // The standard library alone, with OpenSSL 3 on the PATH: it runs OpenSSL itself.
        const viaOpenssl = spawnSync(python3, ['-S', join(folder, 'verify.py'), folder, '--public-key', manifest.key], { encoding: 'utf8' });
        expect(viaOpenssl.status, viaOpenssl.stdout).toBe(1);
        expect(viaOpenssl.stdout).toContain('(checked with OpenSSL)');
      }
      const bare = runBare(folder);
      expect(bare.status, String(bare.stdout)).toBe(2);
      expect(bare.stdout).toContain('INCOMPLETE');
      expect(bare.stdout).not.toContain('PASS');
    }
  });

  it('also verifies gzipped and from an extracted folder', async () => {
    const gz = outFile('bundle.tar.gz');
    await exportAuditBundle({ source, window: { from, to }, out: gz, exportedVia: 'database' });
    expect(readFileSync(gz).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(await verifyAuditBundle({ path: gz, publicKey: manifest.key })).toMatchObject({ ok: true });

    const dir = join(work, `dir-${backend.name}`);
    mkdirSync(dir);
    for (const m of await readTar(gz)) writeFileSync(join(dir, m.name.split('/').pop()!), m.data);
    writeFileSync(join(dir, 'notes.txt'), 'an examiner may keep notes beside the files');
    expect(await verifyAuditBundle({ path: dir })).toMatchObject({ ok: true });
  });

  it('whole log: no window bounds export everything from index 0', async () => {
    const all = outFile();
    const r = await exportAuditBundle({ source, window: {}, out: all, exportedVia: 'database' });
    expect(r.manifest.span).toEqual({ start: 0, end: r.manifest.checkpoint.size });
    expect(r.manifest.earliestCheckpoint).toBeNull(); // the anchor is the earliest checkpoint covering everything
    expect(await verifyAuditBundle({ path: all })).toMatchObject({ ok: true, leaves: r.manifest.checkpoint.size });
  });

  describe('names what was done to a tampered bundle', () => {
    const at = (k: number): number => manifest.span.start + k;

    it('one byte of one leaf changed → changed at that index', async () => {
      const k = 1 + randomInt(DURING - 2);
      const file = await tampered(bundle, 'leaves.jsonl', editLines((ls) => ls.map((l, i) => (i === k ? l.replace('"action":"', '"action":"X') : l))));
      expect(problemOf(await verifyAuditBundle({ path: file }))).toEqual({ kind: 'changed', index: at(k), file: 'leaves.jsonl' });
    });

    it('a leaf line dropped → missing at its index', async () => {
      const k = randomInt(DURING);
      const file = await tampered(bundle, 'leaves.jsonl', editLines((ls) => ls.filter((_, i) => i !== k)));
      expect(problemOf(await verifyAuditBundle({ path: file }))).toEqual({ kind: 'missing', index: at(k), file: 'leaves.jsonl' });
    });

    it('the last leaf dropped → missing at the last index', async () => {
      const file = await tampered(bundle, 'leaves.jsonl', editLines((ls) => ls.slice(0, -1)));
      expect(problemOf(await verifyAuditBundle({ path: file }))).toEqual({ kind: 'missing', index: manifest.span.end - 1, file: 'leaves.jsonl' });
    });

    it('two lines swapped → reordered at the first', async () => {
      const k = randomInt(DURING - 10);
      const file = await tampered(
        bundle,
        'leaves.jsonl',
        editLines((ls) => {
          [ls[k], ls[k + 7]] = [ls[k + 7]!, ls[k]!];
          return ls;
        }),
      );
      expect(problemOf(await verifyAuditBundle({ path: file }))).toEqual({ kind: 'reordered', index: at(k), file: 'leaves.jsonl' });
    });

    it('a forged line appended → forged at the end of the span', async () => {
      const forged = JSON.stringify({ ...JSON.parse((await readTar(bundle)).find((m) => m.name.endsWith('leaves.jsonl'))!.data.toString().split('\n')[0]!), index: manifest.span.end, action: 'model.approve' });
      const file = await tampered(bundle, 'leaves.jsonl', editLines((ls) => [...ls, forged]));
      expect(problemOf(await verifyAuditBundle({ path: file }))).toEqual({ kind: 'forged', index: manifest.span.end, file: 'leaves.jsonl' });
    });

    it('the checkpoint replaced by one signed with another key, or by an older genuine one → bad_checkpoint', async () => {
      const other = generateKeyPairSync('ed25519');
      const raw = ed25519RawPublicKey(other.publicKey);
      const fake = signCheckpoint(
        { origin: manifest.origin, size: manifest.checkpoint.size, rootHash: Buffer.alloc(32, 7) },
        { name: manifest.origin, rawPublicKey: raw, sign: (b) => sign(null, b, other.privateKey) },
      );
      const forged = await tampered(bundle, 'checkpoint.txt', () => Buffer.from(fake));
      expect(problemOf(await verifyAuditBundle({ path: forged }))).toEqual({ kind: 'bad_checkpoint', file: 'checkpoint.txt' });
      // The attacker's key substituted in the bundle too: only the examiner's own key catches it.
      const both = await tampered(forged, 'public-key.txt', () => Buffer.from(verifierKey(manifest.origin, raw) + '\n'));
      expect(problemOf(await verifyAuditBundle({ path: both, publicKey: manifest.key }))).toEqual({ kind: 'wrong_key', file: 'public-key.txt' });

      const early = (await readTar(bundle)).find((m) => m.name.endsWith('earliest-checkpoint.txt'))!.data;
      const older = await tampered(bundle, 'checkpoint.txt', () => early);
      expect(problemOf(await verifyAuditBundle({ path: older }))).toEqual({ kind: 'bad_checkpoint', file: 'checkpoint.txt' });
      const edited = await tampered(bundle, 'checkpoint.txt', (d) => Buffer.from(d.toString().replace(/\n\d+\n/, `\n${manifest.checkpoint.size + 1}\n`)));
      expect(problemOf(await verifyAuditBundle({ path: edited }))).toEqual({ kind: 'bad_checkpoint', file: 'checkpoint.txt' });
    });

    it('a wrong --public-key → wrong_key', async () => {
      const other = verifierKey(manifest.origin, ed25519RawPublicKey(generateKeyPairSync('ed25519').publicKey));
      expect(problemOf(await verifyAuditBundle({ path: bundle, publicKey: other }))).toEqual({ kind: 'wrong_key', file: 'public-key.txt' });
    });

    it('a broken inclusion proof or range proof → bad_proof', async () => {
      const k = randomInt(DURING);
      const proofs = await tampered(
        bundle,
        'inclusion-proofs.jsonl',
        editLines((ls) => ls.map((l, i) => (i === k ? JSON.stringify({ ...JSON.parse(l), proof: [Buffer.alloc(32).toString('base64')] }) : l))),
      );
      expect(problemOf(await verifyAuditBundle({ path: proofs }))).toEqual({ kind: 'bad_proof', index: at(k), file: 'inclusion-proofs.jsonl' });
      const range = await tampered(bundle, 'range-proof.json', (d) => {
        const rp = JSON.parse(d.toString()) as { left: Array<{ hash: string }> };
        rp.left[0]!.hash = Buffer.alloc(32, 1).toString('base64');
        return Buffer.from(JSON.stringify(rp));
      });
      expect(problemOf(await verifyAuditBundle({ path: range }))).toEqual({ kind: 'bad_proof', file: 'range-proof.json' });
      const consistency = await tampered(bundle, 'consistency-proof.json', (d) => {
        const c = JSON.parse(d.toString()) as { proof: string[] };
        c.proof.reverse();
        return Buffer.from(JSON.stringify(c));
      });
      expect(problemOf(await verifyAuditBundle({ path: consistency }))).toEqual({ kind: 'bad_proof', file: 'consistency-proof.json' });
    });

    it('README or verify.py edited → changed, naming the file', async () => {
      const readme = await tampered(bundle, 'README.md', (d) => Buffer.concat([d, Buffer.from('\nAll good, no need to check.\n')]));
      expect(problemOf(await verifyAuditBundle({ path: readme }))).toEqual({ kind: 'changed', file: 'README.md' });
      const script = await tampered(bundle, 'verify.py', (d) => Buffer.from(d.toString().replace('sys.exit(1)', 'sys.exit(0)')));
      expect(problemOf(await verifyAuditBundle({ path: script }))).toEqual({ kind: 'changed', file: 'verify.py' });
    });

    it('corrupted, truncated, foreign or incomplete files → malformed with a clear message', async () => {
      const bytes = readFileSync(bundle);
      const cases: Array<[string, Buffer | string, RegExp]> = [
        ['header flipped', Buffer.concat([bytes.subarray(0, 100), Buffer.from(bytes.subarray(100, 160).map((b) => b ^ 0xff)), bytes.subarray(160)]), /not a readable tar archive/],
        ['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), /not a readable tar archive/],
        ['not a tar', Buffer.from('{"hello": "world"}\n'.repeat(100)), /not a readable tar archive/],
        ['bad gzip', Buffer.concat([Buffer.from([0x1f, 0x8b]), bytes.subarray(0, 500)]), /gzip/],
        ['empty', Buffer.alloc(0), /has no manifest\.json|has no README\.md/],
      ];
      for (const [label, content, message] of cases) {
        const file = outFile(`${label.replace(/ /g, '-')}.tar`);
        writeFileSync(file, content);
        const report = await verifyAuditBundle({ path: file });
        expect(problemOf(report).kind, label).toBe('malformed');
        expect(report.ok ? '' : report.problem.detail, label).toMatch(message);
      }
      const noManifest = outFile();
      await writeTar(noManifest, (await readTar(bundle)).filter((m) => !m.name.endsWith('manifest.json')));
      expect(problemOf(await verifyAuditBundle({ path: noManifest }))).toEqual({ kind: 'malformed', file: 'manifest.json' });
      const badJson = await tampered(bundle, 'manifest.json', (d) => d.subarray(0, 20));
      expect(problemOf(await verifyAuditBundle({ path: badJson }))).toEqual({ kind: 'malformed', file: 'manifest.json' });
      const missing = await verifyAuditBundle({ path: join(work, 'no-such-bundle.tar') });
      expect(problemOf(missing).kind).toBe('malformed');
    });
  });

  it('an empty window is an error and writes nothing', async () => {
    const out = outFile();
    await expect(exportAuditBundle({ source, window: { from: '2000-01-01T00:00:00.000Z', to: '2000-01-02T00:00:00.000Z' }, out, exportedVia: 'database' })).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('no sequenced audit entries'),
    });
    expect(existsSync(out)).toBe(false);
  });

  it('an --out in a missing folder, or naming a folder, is refused before reading the log', async () => {
    const { watched, asked } = watchingSpan(source);
    for (const out of [join(work, 'no-such-folder', 'b.tar'), work]) {
      await expect(exportAuditBundle({ source: watched, window: {}, out, exportedVia: 'database' })).rejects.toMatchObject({ code: 'validation_failed' });
    }
    expect(asked()).toBe(false);
  });

  it('a failure half-way leaves neither the bundle nor its temporary files', async () => {
    const out = outFile();
    let calls = 0;
    const failing: BundleSource = {
      ...source,
      readLeaves: async (range) => {
        if (++calls === 2) throw new Error('connection lost');
        return source.readLeaves(range);
      },
    };
    await expect(exportAuditBundle({ source: failing, window: { from, to }, out, exportedVia: 'database' })).rejects.toThrow('connection lost');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(work).filter((n) => n.startsWith('.assay-bundle-'))).toEqual([]);
  });

  describe('an aborted signal (Ctrl-C or SIGTERM in the CLI) stops the export and leaves nothing', () => {
    const leftovers = (): string[] => readdirSync(work).filter((n) => n.startsWith('.assay-bundle-'));

    it('already aborted: nothing is read or written', async () => {
      const out = outFile();
      const { watched, asked } = watchingSpan(source);
      const signal = AbortSignal.abort('SIGINT');
      await expect(exportAuditBundle({ source: watched, window: { from, to }, out, exportedVia: 'database', signal })).rejects.toMatchObject({
        code: 'unavailable',
        message: `the audit export was interrupted (SIGINT) before it read any leaf: its temporary files were removed and nothing was written to ${out}`,
      });
      expect(asked()).toBe(false);
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
    });

    it('aborted while a source call hangs (a slow server): not waited for; the temporary folder of leaves is removed', async () => {
      const out = outFile();
      const controller = new AbortController();
      let calls = 0;
      let sawFolder = false;
      const hanging: BundleSource = {
        ...source,
        readLeaves: async (range) => {
          if (++calls < 2) return source.readLeaves(range);
          // The first chunk is written: its leaves sit in the temporary folder beside `out`.
          sawFolder = leftovers().length === 1;
          controller.abort('SIGTERM');
          return new Promise<Buffer[]>(() => undefined); // never answers
        },
      };
      await expect(exportAuditBundle({ source: hanging, window: { from, to }, out, exportedVia: 'database', signal: controller.signal })).rejects.toMatchObject({
        code: 'unavailable',
        message: expect.stringMatching(new RegExp(`^the audit export was interrupted \\(SIGTERM\\) after \\d+ of ${manifest.span.end - manifest.span.start} leaves: its temporary files were removed and nothing was written to `)),
      });
      expect(sawFolder).toBe(true);
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
    });

    it('aborted once every leaf is spooled, before the archive is written: no archive, no folder', async () => {
      const out = outFile('bundle.tgz');
      const controller = new AbortController();
      const total = manifest.span.end - manifest.span.start;
      const now = (): Date => {
        controller.abort('SIGINT'); // createdAt is taken right before the archive is written
        return new Date();
      };
      await expect(exportAuditBundle({ source, window: { from, to }, out, exportedVia: 'database', signal: controller.signal, now })).rejects.toMatchObject({
        code: 'unavailable',
        message: `the audit export was interrupted (SIGINT) after ${total} of ${total} leaves: its temporary files were removed and nothing was written to ${out}`,
      });
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
    });

    it('an abort after the export finished changes nothing', async () => {
      const out = outFile();
      const controller = new AbortController();
      await exportAuditBundle({ source, window: { from, to }, out, exportedVia: 'database', signal: controller.signal });
      controller.abort('SIGINT');
      expect((await verifyAuditBundle({ path: out })).ok).toBe(true);
      expect(leftovers()).toEqual([]);
    });
  });

  it('refuses to export leaves that do not match the signed checkpoint', async () => {
    const out = outFile();
    const lying: BundleSource = {
      ...source,
      readLeaves: async (range) => {
        const leaves = await source.readLeaves(range);
        leaves[leaves.length - 1] = Buffer.from(leaves[leaves.length - 1]!.toString().replace('"action":"', '"action":"x'));
        return leaves;
      },
    };
    await expect(exportAuditBundle({ source: lying, window: { from, to }, out, exportedVia: 'database' })).rejects.toMatchObject({ code: 'integrity_violation' });
    expect(existsSync(out)).toBe(false);
  });
});
