import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { sharedParsers } from '../parsers.js';
import { withRetries } from '../retry.js';
import type { Db, QueryResult, TransactionOptions, Tx } from '../types.js';

/** PGlite's own bytea parser yields Uint8Array; the Db contract (and node-postgres) give Buffer. */
const BYTEA_OID = 17;
const parsers = { ...sharedParsers, [BYTEA_OID]: (hex: string) => Buffer.from(hex.slice(2), 'hex') };

/** Options of the embedded driver. */
export interface PgliteDbOptions {
  /** Directory of the database; omitted = in memory (tests). */
  dataDir?: string;
}

/**
 * The embedded database: PostgreSQL compiled to WebAssembly, in this process. It is
 * single-connection, so PGlite queues every statement; a transaction holds the queue for
 * its whole callback, which is why `fn` must use its `tx`, never the `Db`, inside.
 */
export async function createPgliteDb(options: PgliteDbOptions = {}): Promise<Db> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const pg = await PGlite.create({ ...(options.dataDir ? { dataDir: options.dataDir } : {}), parsers });
  await pg.exec(`SET TIME ZONE 'UTC'`);

  const wrap = (q: PGlite | Transaction): Tx => ({
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<T>> {
      const r = await q.query<T>(sql, params as unknown[]);
      // PGlite reports affectedRows 0 for a SELECT; count returned rows then, as pg does.
      return { rows: r.rows, rowCount: r.rows.length > 0 ? r.rows.length : (r.affectedRows ?? 0) };
    },
    // PGlite answers a statement whole: rows are handed over once it has.
    async queryEach<T>(sql: string, params: readonly unknown[], onRow: (row: T) => void): Promise<number> {
      const r = await q.query<T>(sql, params as unknown[]);
      for (const row of r.rows) onRow(row);
      return r.rows.length;
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  });
  const root = wrap(pg);

  return {
    kind: 'pglite',
    query: root.query,
    queryEach: root.queryEach,
    exec: root.exec,
    async transaction<T>(fn: (tx: Tx) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
      return withRetries(opts, () =>
        pg.transaction(async (t) => {
          if (opts.isolation && opts.isolation !== 'read committed') {
            await t.query(`SET TRANSACTION ISOLATION LEVEL ${opts.isolation.toUpperCase()}`);
          }
          return fn(wrap(t));
        }),
      );
    },
    async close(): Promise<void> {
      if (!pg.closed) await pg.close();
    },
  };
}
