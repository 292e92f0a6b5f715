// Writes an audit bundle: a POSIX tar (gzipped for .gz/.tgz) that an examiner verifies with
// public specifications only. The leaves stream through in aligned chunks, so memory stays
// bounded whatever the span; the two large members are spooled to a private temporary folder
// beside the output (tar needs each member's size before its bytes), and the finished archive
// is renamed into place, so a failed export never leaves half a bundle.

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import { AssayError, ASSAY_VERSION, sha256Hasher, Unavailable, ValidationFailed } from '../../core/index.js';
import { openCheckpoint, parseVerifierKey, type NoteVerifier, type OpenedCheckpoint } from '../checkpoint.js';
import { inclusionPathRanges, leafHash, nodeHash, verifyConsistency, verifyInclusion, type LeafRange } from '../merkle.js';
import {
  BUNDLE_FORMAT,
  inWindow,
  leafChunks,
  log2,
  MEMBER,
  parseLeaf,
  RunList,
  TileFold,
  type BundleManifest,
  type BundleWindow,
  type RangeProof,
} from './format.js';
import { bundleReadme } from './readme.js';
import { VERIFY_PY } from './verify-py.js';

/** Where the entries of a time window sit in the log. */
export interface WindowSpan {
  /** Smallest and largest log index of the sequenced entries recorded in the window (null when none). */
  first: number | null;
  last: number | null;
  /** Entries recorded in the window not yet given an index. */
  unsequenced: number;
}

/** What an export reads from the log: the running server's API or the database, same answers. */
export interface BundleSource {
  /** Locates the sequenced entries recorded in `window`. */
  findSpan(window: BundleWindow): Promise<WindowSpan>;
  /** The newest signed checkpoint note, undefined while the log is empty. */
  latestCheckpoint(): Promise<string | undefined>;
  /** The note verifier key that verifies `note`. */
  verifierKey(note: string): Promise<string>;
  /** The exact leaf bytes of [start, end) (at most 1000). */
  readLeaves(range: LeafRange): Promise<Buffer[]>;
  /** RFC 9162 inclusion proof of leaf `index` in the tree of `size`. */
  proveInclusion(q: { index: number; size: number }): Promise<Buffer[]>;
  /** RFC 9162 consistency proof from size `from` to `to`. */
  proveConsistency(q: { from: number; to: number }): Promise<Buffer[]>;
  /** The earliest signed checkpoint of size ≥ `minSize`, when the source keeps them all. */
  earliestCheckpoint?(minSize: number): Promise<string | undefined>;
}

/** Progress of an export, reported once per chunk of leaves. */
export interface ExportProgress {
  done: number;
  total: number;
}

/** Options of `exportAuditBundle`. */
export interface ExportBundleOptions {
  source: BundleSource;
  window: BundleWindow;
  /** Output file; `.gz` or `.tgz` gzips the tar. */
  out: string;
  exportedVia: BundleManifest['exportedVia'];
  onProgress?: (progress: ExportProgress) => void;
  /** @default () => new Date() */
  now?: () => Date;
  /**
   * Aborting it stops the export promptly (between chunks of leaves and of the archive, and without
   * waiting for a source call in flight): the temporary folder is removed, nothing is written to
   * `out`, and the export rejects with an `unavailable` AssayError saying how far it got, naming
   * the abort's reason when that is text (the CLI gives the signal's name, "SIGINT").
   */
  signal?: AbortSignal;
}

/** What `exportAuditBundle` wrote. */
export interface ExportBundleResult {
  out: string;
  manifest: BundleManifest;
}

const NEWLINE = Buffer.from('\n');
const FILE_MODE = 0o644;

function b64(h: Uint8Array): string {
  return Buffer.from(h).toString('base64');
}

function integrity(message: string): AssayError {
  return new AssayError('integrity_violation', `${message}; run "assay audit verify" to locate the damage`);
}

/** Stops an export whose signal was aborted, with an error saying how far it got. */
class Interruption {
  done = 0;
  total = 0;

  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly out: string,
  ) {}

  error(): AssayError {
    const reason: unknown = this.signal?.reason;
    const by = typeof reason === 'string' ? ` (${reason})` : '';
    // The span is known (total > 0) before the first leaf is read.
    const when = this.total === 0 ? 'before it read any leaf' : `after ${this.done} of ${this.total} leaves`;
    return new Unavailable(`the audit export was interrupted${by} ${when}: its temporary files were removed and nothing was written to ${this.out}`);
  }

  check(): void {
    if (this.signal?.aborted) throw this.error();
  }

  /** `pending`, or this error as soon as the signal is aborted: a source call that ignores the signal is not waited for. */
  async wait<T>(pending: Promise<T>): Promise<T> {
    const signal = this.signal;
    if (!signal) return pending;
    pending.catch(() => undefined); // its failure once an abort won the race is of no interest
    this.check();
    let onAbort = (): void => undefined;
    const aborted = new Promise<never>((_resolve, reject) => {
      onAbort = () => reject(this.error());
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([pending, aborted]);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** A member spooled to disk, hashed as it is written. */
class SpoolFile {
  readonly #hash = sha256Hasher();
  #bytes = 0;

  private constructor(
    readonly path: string,
    private readonly fh: FileHandle,
  ) {}

  static async create(path: string): Promise<SpoolFile> {
    return new SpoolFile(path, await open(path, 'wx', 0o600));
  }

  async write(data: Buffer): Promise<void> {
    this.#hash.update(data);
    this.#bytes += data.length;
    await this.fh.write(data);
  }

  async close(): Promise<{ sha256: string; bytes: number }> {
    await this.fh.close();
    return { sha256: this.#hash.digest('hex'), bytes: this.#bytes };
  }
}

/** Levels of the perfect subtree over `hashes` (a power of two of them), leaves first. */
function subtreeLevels(hashes: Buffer[]): Buffer[][] {
  const levels = [hashes];
  for (let level = hashes; level.length > 1; ) {
    const up: Buffer[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(nodeHash(level[i] as Buffer, level[i + 1] as Buffer));
    levels.push(up);
    level = up;
  }
  return levels;
}

/** The part of an inclusion path inside a perfect subtree: the sibling at each level below its root. */
function pathInSubtree(levels: Buffer[][], offset: number): Buffer[] {
  const path: Buffer[] = [];
  let o = offset;
  for (let k = 0; k < levels.length - 1; k++) {
    path.push(levels[k]?.[o % 2 === 0 ? o + 1 : o - 1] as Buffer);
    o = Math.floor(o / 2);
  }
  return path;
}

/** Each element of an inclusion proof with the leaf range it covers, left to right. */
function pathTiles(q: { index: number; size: number; proof: Buffer[] }): RangeProof['left'] {
  return inclusionPathRanges(q.index, q.size)
    .map((r, k) => ({ ...r, hash: b64(q.proof[k] as Buffer) }))
    .sort((a, b) => a.start - b.start);
}

interface LeafPass {
  leaves: { sha256: string; bytes: number };
  proofs: { sha256: string; bytes: number };
  rangeProof: RangeProof;
  entries: number;
  outside: Array<[number, number]>;
}

interface LeafPassInput {
  source: BundleSource;
  anchor: OpenedCheckpoint;
  span: LeafRange;
  window: BundleWindow;
  dir: string;
  onProgress?: ((progress: ExportProgress) => void) | undefined;
  interruption: Interruption;
}

/**
 * Streams the span's leaves and their inclusion proofs into spool files. Each chunk is an
 * aligned subtree of the anchor's tree: its leaves give the lower part of every proof, one
 * inclusion proof from the source gives the part above the chunk, and checking that proof
 * against the signed root ties every exported leaf to the anchor.
 */
async function writeLeaves(input: LeafPassInput): Promise<LeafPass> {
  const { source, anchor, span, window, interruption } = input;
  const size = anchor.size;
  const leavesOut = await SpoolFile.create(join(input.dir, MEMBER.leaves));
  const proofsOut = await SpoolFile.create(join(input.dir, MEMBER.inclusionProofs));
  const fold = new TileFold();
  const outside = new RunList();
  const total = span.end - span.start;
  let entries = 0;
  let left: RangeProof['left'] = [];
  let right: RangeProof['right'] = [];
  try {
    for (const chunk of leafChunks(span, size)) {
      interruption.check(); // before asking the source for more
      const leaves = await interruption.wait(source.readLeaves(chunk));
      if (leaves.length !== chunk.end - chunk.start) throw integrity(`the log returned ${leaves.length} leaves for [${chunk.start}, ${chunk.end})`);
      const levels = subtreeLevels(leaves.map((l) => leafHash(l)));
      const above = (await interruption.wait(source.proveInclusion({ index: chunk.start, size }))).slice(log2(chunk.end - chunk.start));
      const firstProof = [...pathInSubtree(levels, 0), ...above];
      if (!verifyInclusion({ index: chunk.start, size, leafHash: levels[0]?.[0] as Buffer, proof: firstProof, root: anchor.rootHash })) {
        throw integrity(`leaves [${chunk.start}, ${chunk.end}) do not match the signed checkpoint of size ${size}`);
      }
      const leafParts: Buffer[] = [];
      const proofParts: string[] = [];
      for (let i = Math.max(chunk.start, span.start); i < Math.min(chunk.end, span.end); i++) {
        const leaf = leaves[i - chunk.start] as Buffer;
        if (leaf.includes(0x0a)) throw integrity(`leaf ${i} contains a newline, so it is not canonical JSON`);
        const proof = [...pathInSubtree(levels, i - chunk.start), ...above];
        // The left siblings on the first leaf's path tile [0, start); the right siblings on the last one's tile [end, size).
        if (i === span.start) {
          left = pathTiles({ index: i, size, proof }).filter((t) => t.end <= span.start);
          for (const t of left) fold.push(t.end - t.start, Buffer.from(t.hash, 'base64'));
        }
        if (i === span.end - 1) right = pathTiles({ index: i, size, proof }).filter((t) => t.start >= span.end);
        fold.push(1, levels[0]?.[i - chunk.start] as Buffer);
        leafParts.push(leaf, NEWLINE);
        proofParts.push(JSON.stringify({ index: i, proof: proof.map(b64) }) + '\n');
        if (inWindow(parseLeaf(leaf)?.recordedAt, window)) entries++;
        else outside.add(i);
      }
      await leavesOut.write(Buffer.concat(leafParts));
      await proofsOut.write(Buffer.from(proofParts.join(''), 'utf8'));
      interruption.done = Math.min(chunk.end, span.end) - span.start;
      input.onProgress?.({ done: interruption.done, total });
    }
  } catch (err) {
    await Promise.allSettled([leavesOut.close(), proofsOut.close()]);
    throw err;
  }
  const leafDigest = await leavesOut.close();
  const proofDigest = await proofsOut.close();
  for (const t of right) fold.push(t.end - t.start, Buffer.from(t.hash, 'base64'));
  if (fold.size !== size || !fold.root()?.equals(anchor.rootHash)) {
    throw integrity(`the range proof for [${span.start}, ${span.end}) does not rebuild the root of checkpoint ${size}`);
  }
  return {
    leaves: leafDigest,
    proofs: proofDigest,
    rangeProof: { size, rootHash: b64(anchor.rootHash), start: span.start, end: span.end, left, right },
    entries,
    outside: outside.runs,
  };
}

interface Consistency {
  note: string;
  size: number;
  proof: Buffer[];
}

/** The earliest checkpoint covering the span with its consistency proof to the anchor, when the source keeps old checkpoints. */
async function earliestConsistency(
  source: BundleSource,
  anchor: OpenedCheckpoint,
  ctx: { end: number; verifier: NoteVerifier; interruption: Interruption },
): Promise<Consistency | undefined> {
  const note = source.earliestCheckpoint ? await ctx.interruption.wait(source.earliestCheckpoint(ctx.end)) : undefined;
  if (note === undefined) return undefined;
  let early: OpenedCheckpoint;
  try {
    early = openCheckpoint(note, ctx.verifier, { origin: anchor.origin });
  } catch {
    return undefined; // signed by a key rotated out since: it cannot be checked with the bundle's key
  }
  if (early.size >= anchor.size) return undefined;
  const proof = await ctx.interruption.wait(source.proveConsistency({ from: early.size, to: anchor.size }));
  if (!verifyConsistency({ from: early.size, to: anchor.size, fromRoot: early.rootHash, toRoot: anchor.rootHash, proof })) {
    throw integrity(`checkpoint ${early.size} is not consistent with checkpoint ${anchor.size}`);
  }
  return { note, size: early.size, proof };
}

interface Member {
  name: string;
  data?: Buffer;
  path?: string;
  bytes: number;
}

/** The folder the archive unpacks into: the output's name without its archive extensions. */
function folderName(out: string): string {
  const stem = basename(out).replace(/(\.tar)?(\.gz)?$|\.tgz$/i, '');
  const safe = stem.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '');
  return safe === '' ? 'assay-audit-bundle' : safe;
}

async function addMember(pack: tar.Pack, member: Member, header: { folder: string; mtime: Date; interruption: Interruption }): Promise<void> {
  const entryHeader = { name: `${header.folder}/${member.name}`, size: member.bytes, mode: FILE_MODE, mtime: header.mtime, type: 'file' as const };
  await new Promise<void>((resolveEntry, reject) => {
    const sink = pack.entry(entryHeader, (err) => (err ? reject(err) : resolveEntry()));
    if (member.data) {
      sink.end(member.data);
      return;
    }
    void (async () => {
      for await (const chunk of createReadStream(member.path as string)) {
        header.interruption.check();
        if (!sink.write(chunk as Buffer)) await once(sink, 'drain');
      }
      sink.end(undefined);
    })().catch(reject);
  });
}

async function writeArchive(members: Member[], target: { path: string; gzip: boolean; folder: string; mtime: Date; interruption: Interruption }): Promise<void> {
  const pack = tar.pack();
  const file = createWriteStream(target.path, { flags: 'wx', mode: FILE_MODE });
  const written = target.gzip ? pipeline(pack, createGzip(), file) : pipeline(pack, file);
  try {
    for (const m of members) {
      target.interruption.check();
      await addMember(pack, m, target);
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err as Error);
    throw err;
  } finally {
    await written;
  }
  const fh = await open(target.path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Exports the log entries recorded in `window` as a self-contained, independently verifiable
 * bundle written to `out`: the contiguous leaf span from the smallest to the largest index
 * recorded in the window, anchored by the newest signed checkpoint. A NotFound-style error
 * when the window holds no sequenced entry; an integrity error (and no file) when the log does
 * not match its own signed checkpoint.
 */
export async function exportAuditBundle(options: ExportBundleOptions): Promise<ExportBundleResult> {
  const { source, window } = options;
  const out = resolve(options.out);
  // Checked first: a bad --out should not cost a pass over the log.
  if (!(await stat(dirname(out)).catch(() => undefined))?.isDirectory() || (await stat(out).catch(() => undefined))?.isDirectory()) {
    throw new ValidationFailed(`cannot write ${out}: it must name a file in an existing folder`, [{ field: 'out', message: 'must name a file in an existing folder' }]);
  }
  const interruption = new Interruption(options.signal, out);
  interruption.check();
  const found = await interruption.wait(source.findSpan(window));
  if (found.first === null || found.last === null) {
    const pending = found.unsequenced > 0 ? ` (${found.unsequenced} recorded there have no log index yet: a running server's sequencer assigns them)` : '';
    throw new AssayError('not_found', `no sequenced audit entries were recorded from ${window.from ?? 'the beginning'} to ${window.to ?? 'now'}${pending}`);
  }
  // Read after the span, so every index found is covered by the anchor.
  const note = await interruption.wait(source.latestCheckpoint());
  if (note === undefined) throw new AssayError('not_found', 'the audit log has no signed checkpoint yet');
  const key = await interruption.wait(source.verifierKey(note));
  const verifier = parseVerifierKey(key);
  const anchor = openCheckpoint(note, verifier, { origin: verifier.name });
  const span = { start: found.first, end: found.last + 1 };
  if (span.end > anchor.size) throw integrity(`entry index ${found.last} lies beyond the newest checkpoint (size ${anchor.size})`);
  interruption.total = span.end - span.start;
  interruption.check();

  const dir = await mkdtemp(join(dirname(out), '.assay-bundle-'));
  try {
    const pass = await writeLeaves({ source, anchor, span, window, dir, onProgress: options.onProgress, interruption });
    const consistency = await earliestConsistency(source, anchor, { end: span.end, verifier, interruption });
    const createdAt = (options.now ?? (() => new Date()))();
    const head: Omit<BundleManifest, 'files'> = {
      format: BUNDLE_FORMAT,
      generator: `assay ${ASSAY_VERSION}`,
      origin: anchor.origin,
      createdAt: createdAt.toISOString(),
      exportedVia: options.exportedVia,
      window: { from: window.from ?? null, to: window.to ?? null, entries: pass.entries, outside: pass.outside, unsequenced: found.unsequenced },
      span,
      checkpoint: { size: anchor.size, rootHash: b64(anchor.rootHash) },
      key,
      earliestCheckpoint: consistency ? { size: consistency.size } : null,
    };
    const text = (name: string, content: string): Member => {
      const data = Buffer.from(content, 'utf8');
      return { name, data, bytes: data.length };
    };
    const small: Member[] = [
      text(MEMBER.readme, bundleReadme(head)),
      text(MEMBER.script, VERIFY_PY),
      text(MEMBER.publicKey, key + '\n'),
      text(MEMBER.checkpoint, note),
      text(MEMBER.rangeProof, JSON.stringify(pass.rangeProof, null, 2) + '\n'),
      ...(consistency
        ? [
            text(MEMBER.earliestCheckpoint, consistency.note),
            text(
              MEMBER.consistencyProof,
              JSON.stringify({ from: consistency.size, to: anchor.size, proof: consistency.proof.map(b64) }, null, 2) + '\n',
            ),
          ]
        : []),
    ];
    const large: Member[] = [
      { name: MEMBER.leaves, path: join(dir, MEMBER.leaves), bytes: pass.leaves.bytes },
      { name: MEMBER.inclusionProofs, path: join(dir, MEMBER.inclusionProofs), bytes: pass.proofs.bytes },
    ];
    const files: BundleManifest['files'] = {};
    for (const m of small) files[m.name] = { sha256: sha256Hasher().update(m.data as Buffer).digest('hex'), bytes: m.bytes };
    files[MEMBER.leaves] = pass.leaves;
    files[MEMBER.inclusionProofs] = pass.proofs;
    const manifest: BundleManifest = { ...head, files };
    const [readme, ...rest] = small;
    const members = [readme as Member, text(MEMBER.manifest, JSON.stringify(manifest, null, 2) + '\n'), ...rest, ...large];
    const archive = join(dir, 'bundle');
    await writeArchive(members, { path: archive, gzip: /\.(gz|tgz)$/i.test(out), folder: folderName(out), mtime: createdAt, interruption });
    // The last moment an interruption stops the export: once renamed, the bundle is whole.
    interruption.check();
    await rename(archive, out);
    return { out, manifest };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
