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
 * The salted hash under which a subject id is indexed: SHA-256 over the salt (hex), ":" and
 * the id as text, trimmed. An erasure request hashes the id it is given the same way.
 */
export function subjectHash(salt: Buffer, subjectId: string): Buffer {
  return createHash('sha256').update(`${salt.toString('hex')}:${subjectId.trim()}`).digest();
}

/** The distinct salted hashes of the non-empty subject ids in `column` of the records `source` (a FROM clause), computed in DuckDB. */
export async function subjectHashes(duck: DuckSession, input: { source: string; column: string; salt: Buffer }): Promise<string[]> {
  const v = `trim(CAST(${ident(input.column)} AS VARCHAR))`;
  // The salt is a bound parameter, never part of the SQL text.
  const rows = await duck.aggregate<{ h: string }>(`SELECT DISTINCT sha256($1 || ':' || ${v}) AS h FROM ${input.source} WHERE coalesce(${v}, '') <> ''`, [input.salt.toString('hex')]);
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
