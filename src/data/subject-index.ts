import { createHash, randomBytes } from 'node:crypto';
import type { Queryable, Tx } from '../store/index.js';
import { ident, type DuckSession } from './duck.js';

const SALT_NAME = 'subject_index_salt';
/** Subject hashes are inserted this many at a time (one round trip each). */
const BATCH = 5000;

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
 * The characters stripped from both ends of a subject id: those JavaScript's `trim()` removes
 * (white space and line terminators). DuckDB's own `trim()` keeps tabs and line breaks, so
 * ingest (in DuckDB) and an erasure request (here) strip this one set, or a padded id in a
 * file could never be found again.
 */
export const SUBJECT_ID_PADDING = '\t\n\u000b\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff';
const PADDING = new RegExp(`^[${SUBJECT_ID_PADDING}]+|[${SUBJECT_ID_PADDING}]+$`, 'g');
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/**
 * What a subject id is indexed and looked up as: stripped of SUBJECT_ID_PADDING, with ASCII
 * letters in lower case, so `Anna@Example.com` and `anna@example.com` are one subject (an
 * erasure request should find too much rather than too little; non-ASCII letters keep their
 * case, since DuckDB and JavaScript do not fold them alike).
 */
export function subjectKey(subjectId: string): string {
  return subjectId.replace(PADDING, '').replace(/[A-Z]/g, (c) => c.toLowerCase());
}

/** `subjectKey` of `column` as DuckDB SQL; `padding` is the SQL holding SUBJECT_ID_PADDING (a bound parameter). */
function subjectKeySql(column: string, padding: string): string {
  return `translate(trim(CAST(${ident(column)} AS VARCHAR), ${padding}), '${UPPER}', '${UPPER.toLowerCase()}')`;
}

/** The salted hash under which a subject id is indexed: SHA-256 over the salt (hex), ":" and the id's `subjectKey`. */
export function subjectHash(salt: Buffer, subjectId: string): Buffer {
  return createHash('sha256').update(`${salt.toString('hex')}:${subjectKey(subjectId)}`).digest();
}

/**
 * The hashes an erasure request looks a subject id up under: `subjectHash`, and the hash of
 * the id merely trimmed, under which versions ingested before ids were normalised were indexed.
 */
export function subjectLookupHashes(salt: Buffer, subjectId: string): Buffer[] {
  const legacy = createHash('sha256').update(`${salt.toString('hex')}:${subjectId.trim()}`).digest();
  const current = subjectHash(salt, subjectId);
  return current.equals(legacy) ? [current] : [current, legacy];
}

/** The distinct salted hashes of the non-empty subject ids in `column` of the records `source` (a FROM clause), computed in DuckDB. */
export async function subjectHashes(duck: DuckSession, input: { source: string; column: string; salt: Buffer }): Promise<string[]> {
  const v = subjectKeySql(input.column, '$2');
  // The salt is a bound parameter, never part of the SQL text.
  const rows = await duck.aggregate<{ h: string }>(`SELECT DISTINCT sha256($1 || ':' || ${v}) AS h FROM ${input.source} WHERE coalesce(${v}, '') <> ''`, [
    input.salt.toString('hex'),
    SUBJECT_ID_PADDING,
  ]);
  return rows.map((r) => r.h);
}

/** Records `hashes` (hex) as subjects of the version, in batches, inside the ingest transaction. */
export async function indexSubjects(tx: Tx, input: { versionId: string; hashes: string[] }): Promise<void> {
  for (let i = 0; i < input.hashes.length; i += BATCH) {
    await tx.query(`INSERT INTO dataset_subjects (subject_hash, version_id) SELECT decode(h, 'hex'), $1 FROM unnest($2::text[]) AS h`, [
      input.versionId,
      input.hashes.slice(i, i + BATCH),
    ]);
  }
}
