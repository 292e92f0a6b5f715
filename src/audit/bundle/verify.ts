// Verifies an audit bundle with nothing but the bundle (and, ideally, a key obtained
// independently): no server, no database, no configuration. The archive is unpacked into a
// private temporary folder so members may come in any order (an examiner may have re-packed
// it); the leaves are then streamed, so memory stays O(log n) whatever the span.

import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { z } from 'zod';
import { sha256Hasher } from '../../core/index.js';
import { openCheckpoint, parseVerifierKey, type NoteVerifier, type OpenedCheckpoint } from '../checkpoint.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../merkle.js';
import {
  consistencyFileSchema,
  inclusionLineSchema,
  inWindow,
  manifestSchema,
  MEMBER,
  MEMBER_NAMES,
  parseLeaf,
  rangeProofSchema,
  REQUIRED_MEMBERS,
  RunList,
  TileFold,
  type BundleManifest,
  type BundleWindow,
  type RangeProof,
} from './format.js';

/** What is wrong with a bundle. The leaf kinds match `assay audit verify` on the live log. */
export type BundleProblemKind =
  | 'missing'
  | 'changed'
  | 'reordered'
  | 'forged'
  | 'bad_checkpoint'
  | 'wrong_key'
  | 'bad_proof'
  | 'malformed';

/** The first problem found: at a leaf index, in a member file, or both. */
export interface BundleProblem {
  kind: BundleProblemKind;
  index?: number;
  file?: string;
  detail: string;
}

/** How the key that signed the anchor came to be trusted. */
export type KeyTrust = 'given' | 'bundle';

/** What a bundle that verifies proves. */
export interface BundleSummary {
  origin: string;
  /** The note verifier key the checkpoint was checked with. */
  key: string;
  /** `bundle` when no key was given: the bundle vouched for its own key. */
  keyTrusted: KeyTrust;
  checkpoint: { size: number; rootHash: string };
  span: { start: number; end: number };
  leaves: number;
  window: { from: string | null; to: string | null; entries: number };
  /** Size of the earliest checkpoint shown consistent with the anchor, when the bundle has one. */
  earliestCheckpointSize: number | null;
  /** The leaves `select` chose (at most MAX_SELECTED, in log order), when it was given: proven, since the whole bundle verified. */
  selected?: SelectedLeaf[];
}

/** A leaf of a verified bundle, parsed, at its index in the log. */
export interface SelectedLeaf {
  index: number;
  leaf: Record<string, unknown>;
}

/** Outcome of `verifyAuditBundle`. */
export type BundleVerifyReport = ({ ok: true } & BundleSummary) | { ok: false; problem: BundleProblem };

/** Options of `verifyAuditBundle`. */
export interface VerifyBundleOptions {
  /** A bundle file (tar, gzipped or not) or a folder it was extracted into. */
  path: string;
  /**
   * The note verifier key the examiner trusts, or several (the operator's list of every key the
   * log has signed with: the bundle must be signed by one of them); without it the bundle's own
   * key is used.
   */
  publicKey?: string | readonly string[];
  /**
   * Chooses leaves to hand back (e.g. the audit entry that names a dataset manifest): they are
   * reported only when the whole bundle verifies, so what is returned is what the log signed.
   */
  select?: (leaf: Record<string, unknown>) => boolean;
}

/** Most leaves `select` hands back: a check looks for a few entries, not a copy of the log. */
const MAX_SELECTED = 1000;

/** Largest member read into memory whole (everything but the two line files). */
const MAX_SMALL_MEMBER = 16 * 1024 * 1024;
/** Longest line accepted in the line files (a leaf is a few kilobytes). */
const MAX_LINE = 4 * 1024 * 1024;

interface Digest {
  sha256: string;
  bytes: number;
}

class Found extends Error {
  constructor(readonly problem: BundleProblem) {
    super(problem.detail);
  }
}

function fail(problem: BundleProblem): never {
  throw new Found(problem);
}

function malformed(detail: string, file?: string): never {
  fail({ kind: 'malformed', detail, ...(file ? { file } : {}) });
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}

/** Reads a tar member name as `name` or `folder/name`; undefined for anything else. */
function splitName(raw: string): { folder: string; name: string } | undefined {
  const parts = raw.replace(/^(\.\/)+/, '').replace(/\/+$/, '').split('/');
  if (parts.some((p) => p === '' || p === '.' || p === '..')) return undefined;
  if (parts.length === 1) return { folder: '', name: parts[0] as string };
  if (parts.length === 2) return { folder: parts[0] as string, name: parts[1] as string };
  return undefined;
}

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await fh.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Unpacks the bundle's members into `into`, hashing each; malformed for anything but a flat (or one-folder) tar of known members. */
async function extractBundle(file: string, into: string): Promise<Map<string, Digest>> {
  const digests = new Map<string, Digest>();
  const extract = tar.extract();
  const input = createReadStream(file);
  const abort = (err: Error): void => {
    extract.destroy(err);
  };
  input.on('error', abort);
  if (await isGzip(file)) {
    const gunzip = createGunzip();
    gunzip.on('error', (err) => abort(new Error(`not a valid gzip file: ${err.message}`)));
    input.pipe(gunzip).pipe(extract);
  } else {
    input.pipe(extract);
  }
  let folder: string | undefined;
  try {
    for await (const entry of extract) {
      const { header } = entry;
      const where = splitName(header.name);
      if (header.type === 'directory' && where && where.folder === '') {
        entry.resume();
        continue;
      }
      if (!where || (header.type !== 'file' && header.type !== 'contiguous-file')) malformed(`unexpected ${header.type} member ${JSON.stringify(header.name)}`);
      if (!MEMBER_NAMES.includes(where.name)) malformed(`unexpected member ${JSON.stringify(header.name)}`);
      if (folder !== undefined && folder !== where.folder) malformed(`members are spread over more than one folder (${JSON.stringify(header.name)})`);
      folder = where.folder;
      if (digests.has(where.name)) malformed(`the bundle holds ${where.name} twice`, where.name);
      const hash = sha256Hasher();
      let bytes = 0;
      const out = await open(join(into, where.name), 'wx', 0o600);
      try {
        for await (const chunk of entry) {
          hash.update(chunk as Buffer);
          bytes += (chunk as Buffer).length;
          await out.write(chunk as Buffer);
        }
      } finally {
        await out.close();
      }
      digests.set(where.name, { sha256: hash.digest('hex'), bytes });
    }
  } catch (err) {
    input.destroy();
    if (err instanceof Found) throw err;
    malformed(`not a readable tar archive: ${messageOf(err)}`);
  }
  return digests;
}

async function digestFile(path: string): Promise<Digest> {
  const hash = sha256Hasher();
  let bytes = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** Digests of the known members of an extracted bundle folder (other files, such as verify.py's output, are ignored). */
async function folderDigests(dir: string): Promise<Map<string, Digest>> {
  const digests = new Map<string, Digest>();
  for (const name of MEMBER_NAMES) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st?.isFile()) digests.set(name, await digestFile(join(dir, name)));
  }
  return digests;
}

interface Line {
  bytes: Buffer;
  /** 1-based line number. */
  number: number;
}

/** The file's lines split on 0x0A exactly (no other terminator), without the newline. */
async function* linesOf(path: string, file: string): AsyncGenerator<Line> {
  let rest = Buffer.alloc(0);
  let number = 0;
  for await (const chunk of createReadStream(path)) {
    const buf = rest.length > 0 ? Buffer.concat([rest, chunk as Buffer]) : (chunk as Buffer);
    let from = 0;
    for (let at = buf.indexOf(0x0a, from); at >= 0; at = buf.indexOf(0x0a, from)) {
      yield { bytes: buf.subarray(from, at), number: ++number };
      from = at + 1;
    }
    rest = Buffer.from(buf.subarray(from));
    if (rest.length > MAX_LINE) malformed(`line ${number + 1} is longer than ${MAX_LINE} bytes`, file);
  }
  if (rest.length > 0) yield { bytes: rest, number: number + 1 };
}

/** Reads a whole line-file line by line, one at a time on request. */
class LineCursor {
  readonly #it: AsyncGenerator<Line>;

  constructor(
    private readonly path: string,
    readonly file: string,
  ) {
    this.#it = linesOf(path, file);
  }

  async next(): Promise<Line | undefined> {
    const r = await this.#it.next();
    return r.done ? undefined : r.value;
  }

  async close(): Promise<void> {
    await this.#it.return(undefined);
  }
}

function parseJson<T>(text: string, schema: z.ZodType<T>, file: string): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    malformed(`${file} is not JSON: ${messageOf(err)}`, file);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) malformed(`${file} is not a valid ${file}: ${issues(parsed.error)}`, file);
  return parsed.data;
}

/**
 * Why the bundle's key is not the one given. The same log name with another key is what a key
 * rotation looks like (the name is the log's origin, the key changes): a bundle signed before it
 * is intact, and checks with the key retired since, which the operator's key list still holds.
 */
function wrongKeyDetail(bundled: string, given: string, sameLog: boolean): string {
  const base = `the bundle is signed for key ${bundled}, not the key you trust (${given})`;
  if (!sameLog) return base;
  return (
    `${base}. Both keys are of the log ${bundled.split('+')[0]}: if its key was rotated since the bundle was signed, ` +
    'look for the bundle\'s key in the list of every key the log has signed with (GET /api/v1/audit/public-keys, ' +
    'retired keys included) and, if the operator lists it, check the bundle with that key'
  );
}

function sameKey(a: NoteVerifier, b: NoteVerifier): boolean {
  return a.name === b.name && Buffer.from(a.keyId).equals(b.keyId) && Buffer.from(a.publicKey).equals(b.publicKey);
}

function b64(h: Uint8Array): string {
  return Buffer.from(h).toString('base64');
}

class BundleChecker {
  #manifest!: BundleManifest;
  #verifier!: NoteVerifier;
  #anchor!: OpenedCheckpoint;
  #vkey = '';
  #keyTrusted: KeyTrust = 'bundle';

  readonly #selected: SelectedLeaf[] = [];

  constructor(
    private readonly dir: string,
    private readonly digests: Map<string, Digest>,
    private readonly select?: (leaf: Record<string, unknown>) => boolean,
  ) {}

  #path(name: string): string {
    return join(this.dir, name);
  }

  async #bytes(name: string): Promise<Buffer> {
    const size = this.digests.get(name)?.bytes ?? 0;
    if (size > MAX_SMALL_MEMBER) malformed(`${name} is ${size} bytes, more than a bundle ever needs`, name);
    return readFile(this.#path(name));
  }

  async #small(name: string): Promise<string> {
    return (await this.#bytes(name)).toString('utf8');
  }

  async run(givenKey: string | readonly string[] | undefined): Promise<BundleSummary> {
    for (const name of REQUIRED_MEMBERS) if (!this.digests.has(name)) malformed(`the bundle has no ${name}`, name);
    this.#manifest = parseJson(await this.#small(MEMBER.manifest), manifestSchema, MEMBER.manifest);
    await this.#checkKey(givenKey);
    this.#anchor = await this.#openCheckpoint(MEMBER.checkpoint);
    const m = this.#manifest;
    if (this.#anchor.size !== m.checkpoint.size || b64(this.#anchor.rootHash) !== m.checkpoint.rootHash) {
      fail({
        kind: 'bad_checkpoint',
        file: MEMBER.checkpoint,
        detail: `checkpoint.txt signs size ${this.#anchor.size} and root ${b64(this.#anchor.rootHash)}, not the anchor the bundle was built on (size ${m.checkpoint.size}, root ${m.checkpoint.rootHash})`,
      });
    }
    const rangeProof = parseJson(await this.#small(MEMBER.rangeProof), rangeProofSchema, MEMBER.rangeProof);
    const fold = this.#startFold(rangeProof);
    const window = await this.#checkLeaves(rangeProof, fold);
    const earliest = await this.#checkConsistency();
    this.#checkWindow(window);
    this.#checkDigests();
    return {
      origin: m.origin,
      key: this.#vkey,
      keyTrusted: this.#keyTrusted,
      checkpoint: m.checkpoint,
      span: m.span,
      leaves: m.span.end - m.span.start,
      window: { from: m.window.from, to: m.window.to, entries: m.window.entries },
      earliestCheckpointSize: earliest,
      ...(this.select ? { selected: this.#selected } : {}),
    };
  }

  async #checkKey(givenKey: string | readonly string[] | undefined): Promise<void> {
    const text = (await this.#small(MEMBER.publicKey)).trim();
    let bundled: NoteVerifier;
    try {
      bundled = parseVerifierKey(text);
    } catch (err) {
      malformed(`public-key.txt is not a note verifier key: ${messageOf(err)}`, MEMBER.publicKey);
    }
    this.#vkey = text;
    this.#verifier = bundled;
    if (givenKey !== undefined) {
      const givens = (typeof givenKey === 'string' ? [givenKey] : givenKey).map((k) => k.trim());
      const parsed = givens.map((k) => {
        try {
          return parseVerifierKey(k);
        } catch (err) {
          malformed(`the key given is not a note verifier key: ${messageOf(err)}`);
        }
      });
      this.#keyTrusted = 'given';
      const at = parsed.findIndex((given) => sameKey(given, bundled));
      if (at < 0) {
        const detail = givens.length === 1
          ? wrongKeyDetail(text, givens[0]!, parsed[0]!.name === bundled.name)
          : `the bundle is signed for key ${text}, which is none of the ${givens.length} keys you trust`;
        fail({ kind: 'wrong_key', file: MEMBER.publicKey, detail });
      }
      this.#vkey = givens[at]!;
      this.#verifier = parsed[at]!;
    }
    if (text !== this.#manifest.key) malformed('manifest.json names another key than public-key.txt', MEMBER.manifest);
  }

  async #openCheckpoint(name: string): Promise<OpenedCheckpoint> {
    const note = await this.#bytes(name);
    try {
      return openCheckpoint(note, this.#verifier, { origin: this.#manifest.origin });
    } catch (err) {
      fail({ kind: 'bad_checkpoint', file: name, detail: `${name} does not verify with key ${this.#vkey}: ${messageOf(err)}` });
    }
  }

  /** Checks the range proof's shape and folds its left subtrees. */
  #startFold(rp: RangeProof): TileFold {
    const { span } = this.#manifest;
    const badProof = (detail: string): never => fail({ kind: 'bad_proof', file: MEMBER.rangeProof, detail });
    if (rp.size !== this.#anchor.size || rp.rootHash !== b64(this.#anchor.rootHash)) badProof('range-proof.json is for another tree than the checkpoint');
    if (rp.start !== span.start || rp.end !== span.end) badProof(`range-proof.json covers [${rp.start}, ${rp.end}) but the span is [${span.start}, ${span.end})`);
    if (!(span.start < span.end && span.end <= rp.size)) badProof(`the span [${span.start}, ${span.end}) is not within the tree of size ${rp.size}`);
    const fold = new TileFold();
    this.#pushTiles(fold, rp.left, span.start);
    return fold;
  }

  #pushTiles(fold: TileFold, tiles: RangeProof['left'], until: number): void {
    for (const t of tiles) {
      if (t.start !== fold.size || t.end <= t.start) {
        fail({ kind: 'bad_proof', file: MEMBER.rangeProof, detail: `subtree [${t.start}, ${t.end}) does not follow [0, ${fold.size})` });
      }
      try {
        fold.push(t.end - t.start, Buffer.from(t.hash, 'base64'));
      } catch (err) {
        fail({ kind: 'bad_proof', file: MEMBER.rangeProof, detail: messageOf(err) });
      }
    }
    if (fold.size !== until) fail({ kind: 'bad_proof', file: MEMBER.rangeProof, detail: `the subtrees end at ${fold.size}, not ${until}` });
  }

  /** Streams leaves and proofs in step; returns the recomputed window membership. */
  async #checkLeaves(rp: RangeProof, fold: TileFold): Promise<{ entries: number; outside: Array<[number, number]> }> {
    const { span, window } = this.#manifest;
    const bounds: BundleWindow = { ...(window.from ? { from: window.from } : {}), ...(window.to ? { to: window.to } : {}) };
    const leaves = new LineCursor(this.#path(MEMBER.leaves), MEMBER.leaves);
    const proofs = new LineCursor(this.#path(MEMBER.inclusionProofs), MEMBER.inclusionProofs);
    const outside = new RunList();
    let entries = 0;
    let firstBadInclusion: number | undefined;
    try {
      for (let p = span.start; p < span.end; p++) {
        const line = await leaves.next();
        if (!line) fail({ kind: 'missing', index: p, file: MEMBER.leaves, detail: `leaves.jsonl ends before leaf ${p} (the span ends at ${span.end - 1})` });
        const leaf = parseLeaf(line.bytes);
        const embedded = leaf?.index;
        if (typeof embedded !== 'number' || !Number.isSafeInteger(embedded)) {
          fail({ kind: 'changed', index: p, file: MEMBER.leaves, detail: `line ${line.number} of leaves.jsonl is not a JSON object with an integer index` });
        }
        const hash = leafHash(line.bytes);
        if (embedded !== p) await this.#misplaced({ at: p, embedded, hash, leaves });
        const proof = await this.#proofLine(proofs, p);
        if (firstBadInclusion === undefined && !verifyInclusion({ index: p, size: rp.size, leafHash: hash, proof, root: this.#anchor.rootHash })) {
          firstBadInclusion = p;
        }
        fold.push(1, hash);
        if (leaf && this.select && this.#selected.length < MAX_SELECTED && this.select(leaf)) this.#selected.push({ index: p, leaf });
        if (inWindow(leaf?.recordedAt, bounds)) entries++;
        else outside.add(p);
      }
      const extra = await leaves.next();
      if (extra) fail({ kind: 'forged', index: span.end, file: MEMBER.leaves, detail: `leaves.jsonl has a line ${extra.number} beyond the span, which ends at ${span.end - 1}` });
      if (await proofs.next()) fail({ kind: 'bad_proof', file: MEMBER.inclusionProofs, detail: 'inclusion-proofs.jsonl has more lines than the span has leaves' });
    } finally {
      await leaves.close();
      await proofs.close();
    }
    this.#pushTiles(fold, rp.right, rp.size);
    const rebuilt = fold.root()?.equals(this.#anchor.rootHash) === true;
    if (!rebuilt && firstBadInclusion !== undefined) {
      fail({ kind: 'changed', index: firstBadInclusion, file: MEMBER.leaves, detail: `leaf ${firstBadInclusion} is not the leaf the signed checkpoint commits to at that index` });
    }
    if (!rebuilt) fail({ kind: 'bad_proof', file: MEMBER.rangeProof, detail: 'the leaves are proven one by one, but range-proof.json does not rebuild the signed root from them' });
    if (firstBadInclusion !== undefined) {
      fail({ kind: 'bad_proof', index: firstBadInclusion, file: MEMBER.inclusionProofs, detail: `the inclusion proof of leaf ${firstBadInclusion} does not verify, though the leaves rebuild the signed root` });
    }
    return { entries, outside: outside.runs };
  }

  async #proofLine(proofs: LineCursor, p: number): Promise<Buffer[]> {
    const line = await proofs.next();
    if (!line) fail({ kind: 'bad_proof', index: p, file: MEMBER.inclusionProofs, detail: `inclusion-proofs.jsonl ends before the proof of leaf ${p}` });
    const parsed = parseJson(line.bytes.toString('utf8'), inclusionLineSchema, MEMBER.inclusionProofs);
    if (parsed.index !== p) {
      fail({ kind: 'bad_proof', index: p, file: MEMBER.inclusionProofs, detail: `line ${line.number} of inclusion-proofs.jsonl is the proof of ${parsed.index}, not of leaf ${p}` });
    }
    return parsed.proof.map((h) => Buffer.from(h, 'base64'));
  }

  /**
   * Names what happened when position `at` holds a leaf claiming index `embedded`: a genuine leaf
   * of the log (its own inclusion proof verifies) out of place is `reordered` when leaf `at`
   * still comes later and `missing` when it is gone; bytes the log never held are `changed`.
   */
  async #misplaced(q: { at: number; embedded: number; hash: Buffer; leaves: LineCursor }): Promise<never> {
    const { at, embedded } = q;
    const { span } = this.#manifest;
    const genuine = embedded >= span.start && embedded < span.end && (await this.#provenAt(embedded, q.hash));
    if (!genuine) fail({ kind: 'changed', index: at, file: MEMBER.leaves, detail: `position ${at} holds a leaf claiming index ${embedded} that the signed checkpoint does not commit to` });
    for (let line = await q.leaves.next(); line; line = await q.leaves.next()) {
      if (parseLeaf(line.bytes)?.index === at) {
        fail({ kind: 'reordered', index: at, file: MEMBER.leaves, detail: `position ${at} holds leaf ${embedded}; leaf ${at} comes later, on line ${line.number}` });
      }
    }
    if (embedded > at) fail({ kind: 'missing', index: at, file: MEMBER.leaves, detail: `leaf ${at} is absent: the next line holds leaf ${embedded}` });
    fail({ kind: 'reordered', index: at, file: MEMBER.leaves, detail: `position ${at} holds leaf ${embedded} again, and leaf ${at} is absent` });
  }

  /** Whether the leaf hash verifies at `index` with that index's line of inclusion-proofs.jsonl. */
  async #provenAt(index: number, hash: Buffer): Promise<boolean> {
    const proofs = new LineCursor(this.#path(MEMBER.inclusionProofs), MEMBER.inclusionProofs);
    try {
      for (let line = await proofs.next(); line; line = await proofs.next()) {
        if (line.number - 1 !== index - this.#manifest.span.start) continue;
        const parsed = inclusionLineSchema.safeParse(JSON.parse(line.bytes.toString('utf8')));
        if (!parsed.success || parsed.data.index !== index) return false;
        const proof = parsed.data.proof.map((h) => Buffer.from(h, 'base64'));
        return verifyInclusion({ index, size: this.#anchor.size, leafHash: hash, proof, root: this.#anchor.rootHash });
      }
      return false;
    } catch {
      return false;
    } finally {
      await proofs.close();
    }
  }

  async #checkConsistency(): Promise<number | null> {
    const m = this.#manifest;
    const hasNote = this.digests.has(MEMBER.earliestCheckpoint);
    const hasProof = this.digests.has(MEMBER.consistencyProof);
    if (hasNote !== hasProof) malformed('earliest-checkpoint.txt and consistency-proof.json come together', hasNote ? MEMBER.consistencyProof : MEMBER.earliestCheckpoint);
    if ((m.earliestCheckpoint !== null) !== hasNote) malformed('manifest.json and the bundle disagree on whether there is an earliest checkpoint', MEMBER.manifest);
    if (!hasNote) return null;
    const early = await this.#openCheckpoint(MEMBER.earliestCheckpoint);
    const file = parseJson(await this.#small(MEMBER.consistencyProof), consistencyFileSchema, MEMBER.consistencyProof);
    const bad = (detail: string): never => fail({ kind: 'bad_proof', file: MEMBER.consistencyProof, detail });
    if (early.size < m.span.end) bad(`the earliest checkpoint (size ${early.size}) does not cover the span, which ends at ${m.span.end}`);
    if (file.from !== early.size || file.to !== this.#anchor.size) bad(`the proof joins sizes ${file.from} and ${file.to}, not ${early.size} and ${this.#anchor.size}`);
    const proof = file.proof.map((h) => Buffer.from(h, 'base64'));
    if (!verifyConsistency({ from: early.size, to: this.#anchor.size, fromRoot: early.rootHash, toRoot: this.#anchor.rootHash, proof })) {
      bad(`the consistency proof from checkpoint ${early.size} to ${this.#anchor.size} does not verify`);
    }
    return early.size;
  }

  #checkWindow(found: { entries: number; outside: Array<[number, number]> }): void {
    const w = this.#manifest.window;
    if (found.entries !== w.entries || JSON.stringify(found.outside) !== JSON.stringify(w.outside)) {
      malformed(`manifest.json says ${w.entries} leaves are in the window, the leaves' recordedAt say ${found.entries}`, MEMBER.manifest);
    }
  }

  #checkDigests(): void {
    const listed = this.#manifest.files;
    for (const [name, digest] of this.digests) {
      if (name === MEMBER.manifest) continue;
      const want = listed[name];
      if (!want) malformed(`${name} is not listed in manifest.json`, name);
      if (want.sha256 !== digest.sha256 || want.bytes !== digest.bytes) {
        fail({ kind: 'changed', file: name, detail: `${name} does not match its SHA-256 in manifest.json (${want.sha256}; it hashes to ${digest.sha256})` });
      }
    }
    for (const name of Object.keys(listed)) {
      if (!this.digests.has(name)) fail({ kind: 'missing', file: name, detail: `${name} is listed in manifest.json but not in the bundle` });
    }
  }
}

/**
 * Verifies an audit bundle offline: its key (against `publicKey` when given), the anchor
 * checkpoint's signature, every leaf against the signed root (range proof and inclusion
 * proofs), the consistency proof, and every member's digest. Reports the first problem, with
 * the leaf index where there is one; never throws for a bad bundle.
 */
export async function verifyAuditBundle(options: VerifyBundleOptions): Promise<BundleVerifyReport> {
  let scratch: string | undefined;
  try {
    const st = await stat(options.path).catch(() => undefined);
    if (!st) malformed(`no such file: ${options.path}`);
    let dir = options.path;
    let digests: Map<string, Digest>;
    if (st.isDirectory()) {
      digests = await folderDigests(dir);
    } else {
      scratch = await mkdtemp(join(tmpdir(), 'assay-bundle-verify-'));
      dir = scratch;
      digests = await extractBundle(options.path, dir);
    }
    const summary = await new BundleChecker(dir, digests, options.select).run(options.publicKey);
    return { ok: true, ...summary };
  } catch (err) {
    if (err instanceof Found) return { ok: false, problem: err.problem };
    throw err;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
