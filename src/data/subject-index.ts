import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Queryable, Tx } from '../store/index.js';
import { columnText, ident, literal, type DuckSession } from './duck.js';

const SALT_NAME = 'subject_index_salt';
/** Subject hashes are inserted this many at a time (one round trip each). */
const BATCH = 20_000;

/**
 * The installation's subject-index salt: 32 random bytes made on first use and kept in the
 * database (`data_secrets`), so every replica hashes alike and the salt never leaves with
 * evidence. Racing first uses agree: the first insert wins and everyone reads it back.
 */
export async function subjectSalt(db: Queryable): Promise<Buffer> {
  await db.query('INSERT INTO data_secrets (name, secret) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [SALT_NAME, randomBytes(32)]);
  const r = await db.query<{ secret: Buffer }>('SELECT secret FROM data_secrets WHERE name = $1', [SALT_NAME]);
  return r.rows[0]!.secret;
}

/**
 * The characters removed from a subject id wherever they stand: those JavaScript's `trim()`
 * removes (white space and line terminators). `DE89 3704 0044 0532 0130 00`, an IBAN as
 * printed, and `DE89370400440532013000`, as a system stores it, are one subject, as are
 * `+49 30 1234567` and `+49301234567`. DuckDB's own white space differs (its `trim()` keeps
 * tabs and line breaks), so ingest (in DuckDB), an erasure request (here) and legal holds (in
 * PostgreSQL, `assay_subject_keys`) remove this one set, or an id in a file could never be
 * found again.
 */
export const SUBJECT_ID_PADDING = '\t\n\u000b\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
const PADDING = new RegExp(`[${SUBJECT_ID_PADDING}]`, 'g');
/** SUBJECT_ID_PADDING at either end only: what keys held before inner white space was removed. */
const END_PADDING = new RegExp(`^[${SUBJECT_ID_PADDING}]+|[${SUBJECT_ID_PADDING}]+$`, 'g');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const lowerAscii = (text: string): string => text.replace(/[A-Z]/g, (c) => c.toLowerCase());

/**
 * A subject id stripped of SUBJECT_ID_PADDING at either end only, with ASCII letters in lower
 * case: the key versions indexed before keys were NFC-normalised hold (and, of the id in NFC,
 * the key of versions indexed before inner white space was removed).
 */
function endsStrippedKey(subjectId: string): string {
  return lowerAscii(subjectId.replace(END_PADDING, ''));
}

/**
 * What a subject id is indexed and looked up as: in Unicode NFC, without any SUBJECT_ID_PADDING
 * (at the ends or within), with ASCII letters in lower case, so `Anna@Example.com` and
 * `anna@example.com` are one subject, and so are `DE89 3704 0044 0532 0130 00` and
 * `DE89370400440532013000`, and `Zoë` typed on one keyboard and `Zoë` written decomposed
 * (e + U+0308) by another system (an erasure request should find too much rather than too
 * little; non-ASCII letters keep their case, since DuckDB and JavaScript do not fold them alike).
 */
export function subjectKey(subjectId: string): string {
  return lowerAscii(subjectId.normalize('NFC').replace(PADDING, ''));
}

/** The subject id column of a file, as DuckDB loaded it. */
export interface SubjectColumn {
  name: string;
  duckType: string;
}

/** Column types whose whole numbers DuckDB writes with a fraction (`1001.0`, `1001.0000000000`). */
const FRACTIONAL = /^(DOUBLE|FLOAT|DECIMAL\(\d+,\s*[1-9]\d*\))$/;

/**
 * A number column's value as the officer types it: a whole number in its digits (`1001`, not
 * the `1001.0000000000` of an Oracle NUMBER exported as DECIMAL(38,10), nor pandas' float
 * `1001.0`); any other value as DuckDB writes it.
 */
function wholeNumberText(q: string): string {
  return `CASE WHEN ${q} = trunc(${q}) AND abs(${q}) < 1e18 THEN CAST(CAST(${q} AS HUGEINT) AS VARCHAR) ELSE CAST(${q} AS VARCHAR) END`;
}

/** SUBJECT_ID_PADDING as an RE2 character class, for a DuckDB SQL string literal. */
const PADDING_CLASS_SQL = `'[${[...SUBJECT_ID_PADDING].map((c) => `\\x{${c.codePointAt(0)!.toString(16)}}`).join('')}]'`;
/** The code points of SUBJECT_ID_PADDING that ASCII text can hold, but the space: line breaks and tabs. */
const ASCII_CONTROL_PADDING = [...SUBJECT_ID_PADDING].map((c) => c.codePointAt(0)!).filter((c) => c < 0x80 && c !== 0x20);

/**
 * `subjectKey` of `column` as DuckDB SQL. It runs once per record at ingest, so ASCII text
 * (bytes are its characters, and NFC leaves it as it is) takes the cheap way: `contains()`
 * looks for the padding it can hold, a space alone (an IBAN or a phone number as printed) is
 * removed by `replace()`, and only tabs or line breaks cost a regular expression; then
 * `lower()`. Other text is normalised, stripped by the regular expression and lower-cased with
 * translate(), which folds A-Z only, as subjectKey does.
 */
function subjectKeySql(column: SubjectColumn): string {
  // A JSON column's strings without their quotes: `"A-77"` would never be found as A-77.
  const v = FRACTIONAL.test(column.duckType) ? wholeNumberText(ident(column.name)) : columnText({ name: column.name, json: column.duckType === 'JSON' });
  const stripped = (text: string): string => `regexp_replace(${text}, ${PADDING_CLASS_SQL}, '', 'g')`;
  const controls = ASCII_CONTROL_PADDING.map((c) => `contains(${v}, chr(${c}))`).join(' OR ');
  // Per id on one thread (4M ids; before inner white space was removed in brackets): ASCII
  // without padding 70-100 ns (120-180: both ends were checked), ASCII with spaces 170 ns (170;
  // a regular expression would cost 470, translate() 300), ASCII with a tab 270 ns (950), other
  // text 1.45-1.85 µs (1.4-1.7). translate() costs grow with its set of characters (900 ns
  // with A-Z): lower() serves ASCII.
  const ascii = `CASE WHEN ${controls} THEN ${stripped(v)} WHEN contains(${v}, ' ') THEN replace(${v}, ' ', '') ELSE ${v} END`;
  return `CASE WHEN strlen(${v}) = length(${v}) THEN lower(${ascii}) ELSE translate(${stripped(`nfc_normalize(${v})`)}, '${UPPER}', '${UPPER.toLowerCase()}') END`;
}

/** SHA-256 over the salt (hex), ":" and `text`. */
const saltedHash = (salt: Buffer, text: string): Buffer => createHash('sha256').update(`${salt.toString('hex')}:${text}`).digest();

/** The salted hash under which a subject id is indexed: SHA-256 over the salt (hex), ":" and the id's `subjectKey`. */
export function subjectHash(salt: Buffer, subjectId: string): Buffer {
  return saltedHash(salt, subjectKey(subjectId));
}

/** A whole number as a decimal integer: DuckDB spells it with `.0` when it is a float (DOUBLE, FLOAT). */
const INTEGER = /^-?[0-9]+$/;

/** An IBAN's key (ISO 13616: country, check digits, up to 30 letters and digits), in lower case. */
const IBAN = /^[a-z]{2}[0-9]{2}[a-z0-9]{11,30}$/;

/**
 * The hashes an erasure request looks a subject id up under: `subjectHash`; the hash of its key
 * with inner white space kept (`de89 3704 …`), under which versions ingested before inner white
 * space was removed indexed it as the file spelled it; for an IBAN, also its key printed in
 * groups of four (`de89 3704 0044 0532 0130 00`), so an IBAN typed in any spacing finds such a
 * version whose file printed it so; the hash of its key without NFC, under which versions
 * ingested before keys were NFC-normalised indexed it as the file spelled it; the hash of the
 * id merely trimmed, under which versions ingested before ids were normalised were indexed;
 * the hash of its key (inner white space kept) as a JSON string (`"a-77"`), under which versions ingested before JSON
 * columns were unwrapped indexed a string id of a JSON Lines key that also held numbers; and,
 * for a whole number, the hash of it with `.0`, as a float column holds it (`1001.0`: Parquet
 * from pandas, whose integer ids become float64 once one is missing, or a JSON Lines key where
 * one record spells a number `1e3` or `7.5`).
 */
export function subjectLookupHashes(salt: Buffer, subjectId: string): Buffer[] {
  const key = subjectKey(subjectId);
  const spaced = endsStrippedKey(subjectId.normalize('NFC'));
  const hashes = [
    subjectHash(salt, subjectId),
    saltedHash(salt, spaced),
    ...(IBAN.test(key) ? [saltedHash(salt, key.replace(/.{4}(?!$)/g, '$& '))] : []),
    saltedHash(salt, endsStrippedKey(subjectId)),
    saltedHash(salt, subjectId.trim()),
    saltedHash(salt, JSON.stringify(spaced)),
    ...(INTEGER.test(key) ? [saltedHash(salt, `${key}.0`)] : []),
  ];
  return hashes.filter((h, i) => hashes.findIndex((x) => x.equals(h)) === i);
}

/** The distinct subject hashes of a snapshot, one lowercase hex hash per line in ascending order, in a private file. */
export interface SubjectHashFile {
  path: string;
  count: number;
}

/**
 * Writes the distinct salted hashes of the non-empty subject ids in `column` of the records
 * `source` (a FROM clause) to `path`, sorted, computed in DuckDB: a file with millions of
 * subjects is never held in memory here (DuckDB spills), and sorted hashes go into the index
 * in key order, which PostgreSQL appends to a B-tree far faster than random keys.
 */
export async function writeSubjectHashes(duck: DuckSession, input: { source: string; column: SubjectColumn; salt: Buffer; path: string }): Promise<SubjectHashFile> {
  const v = subjectKeySql(input.column);
  // The salt is a bound parameter, never part of the SQL text. Read in parallel: order does not matter to a set.
  await duck.aggregate(`CREATE OR REPLACE TEMP TABLE assay_subjects AS SELECT DISTINCT sha256($1 || ':' || k) AS h FROM (SELECT ${v} AS k FROM ${input.source}) WHERE coalesce(k, '') <> ''`, [
    input.salt.toString('hex'),
  ]);
  try {
    await duck.run(`COPY (SELECT h FROM assay_subjects ORDER BY h) TO ${literal(input.path)} (FORMAT csv, HEADER false)`);
    const [{ n }] = (await duck.rows<{ n: number }>('SELECT count(*) AS n FROM assay_subjects')) as [{ n: number }];
    return { path: input.path, count: n };
  } finally {
    await duck.run('DROP TABLE IF EXISTS assay_subjects');
  }
}

/** Records the hashes of `file` as subjects of the version, streamed in batches, inside the ingest transaction. */
export async function indexSubjects(tx: Tx, input: { versionId: string; file: SubjectHashFile }): Promise<void> {
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    await tx.query(`INSERT INTO dataset_subjects (subject_hash, version_id) SELECT decode(h, 'hex'), $1 FROM unnest($2::text[]) AS h`, [input.versionId, batch]);
    batch = [];
  };
  for await (const line of createInterface({ input: createReadStream(input.file.path, { encoding: 'utf8' }), crlfDelay: Infinity })) {
    if (line === '') continue;
    batch.push(line);
    if (batch.length === BATCH) await flush();
  }
  await flush();
}
