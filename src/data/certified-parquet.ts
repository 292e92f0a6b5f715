import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AssayError, Conflict, sha256Hasher, ValidationFailed } from '../core/index.js';
import type { BlobStore, Db } from '../store/index.js';
import { recordPendingBlob, type StoredBlob } from './blob-refs.js';
import { consentRules, isConsentRule, isResidencyRule, residencyRules, ruleColumn } from './checks/index.js';
import { readCsvHeader } from './csv-dialect.js';
import { literal, openDuckSession, type DuckSession } from './duck.js';
import { loadSnapshot, shadowsRowid, storedTypeOf, type LoadedColumn } from './load.js';
import type { DatasetVersionRecord, Exclusion } from './types.js';
import { skipBom } from './utf8.js';

/** The certified rows as a Parquet blob. */
export interface CertifiedParquet extends StoredBlob {
  rows: number;
  /**
   * Distinct snapshot rows left out: a row excluded for several reasons (no consent and outside
   * the residency) counts under each reason but once here, so snapshot rows − this = `rows`.
   */
  excludedRows: number;
}

/** Where materialising reads from and spills to, and the promotion's claim its Parquet blob is recorded under. */
export interface MaterialiseEnv {
  db: Db;
  claim: string;
  blobs: BlobStore;
  tmpDir: string;
  duckdbMemoryLimit: string;
}

/** The CSV header sniffing reads as much of the file as ingest's spool keeps for it. */
const HEAD_BYTES = 64 * 1024;

/**
 * The SQL predicate (over table `raw`) of each recorded exclusion, rebuilt from the rule that
 * recorded it (`consent@1` to `@4`, `residency@1` to `@3`), the version's declaration and the snapshot's `columns` (a
 * JSON column's strings are read without their quotes from rule version 3 on), so the certified
 * rows are exactly the snapshot minus what the quarantine excluded. An exclusion whose rule
 * this code does not know is an internal error: certifying without it would let rows through.
 */
export function exclusionPredicates(v: DatasetVersionRecord, columns: LoadedColumn[]): Array<{ exclusion: Exclusion; predicate: string }> {
  return v.exclusions.map((exclusion) => {
    const rules =
      isConsentRule(exclusion.rule) && v.consentColumn
        ? consentRules(ruleColumn(v.consentColumn, columns), exclusion.rule)
        : isResidencyRule(exclusion.rule) && v.residencyColumn && v.residency
          ? residencyRules({ column: ruleColumn(v.residencyColumn, columns), residency: v.residency }, exclusion.rule)
          : [];
    const rule = rules.find((r) => r.reason === exclusion.reason);
    if (!rule) throw new AssayError('internal', `exclusion ${exclusion.reason} (${exclusion.rule}) of ${v.datasetName} v${v.version} has no rule to rebuild it`);
    return { exclusion, predicate: `coalesce((${rule.predicate}), false)` };
  });
}

/**
 * Writes the certified rows of version `v` (its raw snapshot, in file order, minus every
 * recorded exclusion) as Parquet with DuckDB and streams the file into the blob store: the
 * snapshot is streamed from the blob store to a scratch file in `dir`, never held in memory.
 * The Parquet file stays in `dir`, the caller's private scratch directory, which it keeps
 * until the promotion has committed: should a concurrent failure remove the blob, the
 * promotion stores it again from there (blob-refs.ts).
 * Values are kept as the snapshot had them (CSV columns as text, a DECIMAL as that DECIMAL);
 * the manifest carries the inferred schema, each column with the type the file holds it as
 * (`storedAs`), which the file is checked against. Refuses (internal) when the snapshot no
 * longer reproduces the recorded exclusion counts, and (conflict) when ingest would now
 * refuse it (`loadAccepted`) or load a column as another type than recorded.
 */
export async function materialiseCertified(env: MaterialiseEnv, v: DatasetVersionRecord, dir: string): Promise<CertifiedParquet> {
  const rawPath = join(dir, 'snapshot');
  let duck: DuckSession | undefined;
  try {
    // DuckDB's JSON reader refuses a byte order mark, which ingest accepted (reading a copy without it).
    if (v.format === 'jsonl') await pipeline(await env.blobs.get(v.snapshot.sha256), skipBom(), createWriteStream(rawPath));
    else await pipeline(await env.blobs.get(v.snapshot.sha256), createWriteStream(rawPath));
    duck = await openDuckSession({ tempDir: env.tmpDir, memoryLimit: env.duckdbMemoryLimit });
    const columns = await loadAccepted(duck, { v, path: rawPath });
    assertStoredAsRecorded(v, columns);
    const predicates = exclusionPredicates(v, columns);
    const excluded = predicates.length > 0 ? predicates.map((p) => p.predicate).join(' OR ') : 'false';
    const counts = await countExclusions(duck, { predicates, excluded });
    const outPath = join(dir, 'certified.parquet');
    // A file's own `rowid` column hides the table's row id: the session's preserved insertion order keeps file order then.
    const order = shadowsRowid(columns) ? '' : ' ORDER BY rowid';
    await duck.run(`COPY (SELECT * FROM raw WHERE NOT (${excluded})${order}) TO ${literal(outPath)} (FORMAT parquet, COMPRESSION zstd)`);
    const [{ n }] = (await duck.rows<{ n: number }>(`SELECT count(*) AS n FROM read_parquet(${literal(outPath)})`)) as [{ n: number }];
    // The manifest states snapshot rows − excluded rows = certified rows: hold the file to it.
    if (n !== counts.total - counts.excluded) throw new AssayError('internal', `certified Parquet of ${v.datasetName} v${v.version} holds ${n} rows, not ${counts.total} − ${counts.excluded} excluded`);
    // The manifest states each column's type in this file (`storedAs`): hold the file to it too.
    const written = await duck.rows<{ column_name: string; column_type: string }>(`DESCRIBE SELECT * FROM read_parquet(${literal(outPath)})`);
    const differs = written.find((c, i) => c.column_type !== columns[i]?.duckType);
    if (differs) throw new AssayError('internal', `certified Parquet of ${v.datasetName} v${v.version} holds column "${differs.column_name}" as ${differs.column_type}, not as loaded`);
    return { ...(await storeFile(env, outPath)), rows: n, excludedRows: counts.excluded };
  } finally {
    duck?.close();
    await rm(rawPath, { force: true });
  }
}

/**
 * 409 when the snapshot now loads a column as another type than ingest recorded it
 * (`storedAs`, which the manifest states as the certified Parquet's type): certified so, the
 * manifest would misstate the file. Only a change in how ingest reads files does this (the
 * snapshot is verified against its hash); ingesting it again records the types as it loads now.
 * Columns of versions ingested before stored types were recorded are not compared.
 */
function assertStoredAsRecorded(v: DatasetVersionRecord, columns: LoadedColumn[]): void {
  const loaded = new Map(columns.map((c) => [c.name, storedTypeOf(c.duckType)]));
  const differs = v.schema.columns.find((c) => c.storedAs !== undefined && loaded.get(c.name) !== c.storedAs);
  if (!differs) return;
  const now = loaded.get(differs.name);
  throw new Conflict(
    `${v.datasetName} v${v.version} cannot be certified: ingest recorded column "${differs.name}" as stored ${differs.storedAs}, the snapshot now loads it ${now === undefined ? 'without it' : `as ${now}`}; ingest the file again`,
  );
}

/**
 * Loads the snapshot ingest accepted. The blob store served it verified against its hash, so a
 * refusal now means ingest refuses more than when the version was quarantined (a JSON Lines
 * integer the Parquet would round, a header whose names differ only in case…): a conflict
 * (409), never certified as it is, and never a 400 naming a `body` or `body.header` the
 * promotion request does not have. The header is read inside, as ingest reads it.
 */
async function loadAccepted(duck: DuckSession, input: { v: DatasetVersionRecord; path: string }): Promise<LoadedColumn[]> {
  const { v, path } = input;
  try {
    const csv = v.format === 'csv' ? { delimiter: v.delimiter ?? ',', header: await csvHeader(path, { delimiter: v.delimiter ?? ',', size: v.snapshot.size }) } : undefined;
    return await loadSnapshot(duck, { path, format: v.format, ...(csv ? { csv } : {}) });
  } catch (err) {
    if (err instanceof ValidationFailed) throw new Conflict(`${v.datasetName} v${v.version} cannot be certified: ${err.message}; ingest the file again`);
    throw err;
  }
}

async function csvHeader(path: string, input: { delimiter: string; size: number }): Promise<string[]> {
  const file = await open(path, 'r');
  try {
    const buf = Buffer.alloc(Math.min(HEAD_BYTES, input.size));
    const { bytesRead } = await file.read(buf, 0, buf.length, 0);
    return readCsvHeader(buf.subarray(0, bytesRead), { delimiter: input.delimiter, complete: bytesRead === input.size });
  } finally {
    await file.close();
  }
}

/**
 * The snapshot's rows and the distinct rows any exclusion takes (`excluded`, the predicates
 * OR-ed), after proving each exclusion still takes exactly the rows the quarantine recorded.
 */
async function countExclusions(duck: DuckSession, input: { predicates: Array<{ exclusion: Exclusion; predicate: string }>; excluded: string }): Promise<{ total: number; excluded: number }> {
  const { predicates } = input;
  const each = predicates.map((p, i) => `, count(*) FILTER (WHERE ${p.predicate})::BIGINT AS e${i}`).join('');
  const [counts] = await duck.rows<Record<string, number | bigint>>(`SELECT count(*)::BIGINT AS total, count(*) FILTER (WHERE ${input.excluded})::BIGINT AS excluded${each} FROM raw`);
  for (const [i, p] of predicates.entries()) {
    const found = Number(counts?.[`e${i}`] ?? 0);
    if (found !== p.exclusion.rowCount) throw new AssayError('internal', `exclusion ${p.exclusion.reason}: the snapshot yields ${found} rows, the quarantine recorded ${p.exclusion.rowCount}`);
  }
  return { total: Number(counts?.total ?? 0), excluded: Number(counts?.excluded ?? 0) };
}

/**
 * Hashes a file and has the blob store adopt it (no copy where the store can help it), noting
 * whether these bytes were new there; new bytes are recorded pending under the claim first.
 */
export async function storeFile(env: { db: Db; claim: string; blobs: BlobStore }, path: string): Promise<StoredBlob> {
  const { blobs } = env;
  const hasher = sha256Hasher();
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    hasher.update(chunk);
    size += chunk.byteLength;
  }
  const hash = hasher.digest('hex');
  const source = { path };
  // Recorded even when the bytes are there already: the commit may have to store them again.
  await recordPendingBlob(env, hash);
  if (await blobs.has(hash)) return { hash, size, created: false, source };
  return { ...(await blobs.adopt(path, { hash, size })), created: true, source };
}
