import pg from 'pg';
import { sharedParsers } from '../parsers.js';
import { beginStatement, withRetries } from '../retry.js';
import type { Db, QueryResult, TransactionOptions, Tx } from '../types.js';

/** Options of the PostgreSQL driver. */
export interface PostgresDbOptions {
  /** `postgres://user@host:port/db` */
  connectionString: string;
  /** @default 10 */
  maxConnections?: number;
}

/** A pooled PostgreSQL database; many Assay processes may share one. */
export async function createPostgresDb(options: PostgresDbOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    // Sessions in UTC so timestamps print the same on every server.
    options: '-c TimeZone=UTC',
    types: {
      getTypeParser: ((oid: number, format?: string) =>
        sharedParsers[oid] ?? pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  // Fail fast at start when the server is unreachable.
  await pool.query('SELECT 1');

  const wrap = (q: pg.Pool | pg.PoolClient): Tx => ({
    async query<T>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<T>> {
      const r = await q.query(sql, params as unknown[]);
      return { rows: r.rows as T[], rowCount: r.rowCount ?? r.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.query(sql);
    },
  });
  const root = wrap(pool);

  return {
    kind: 'postgres',
    query: root.query,
    exec: root.exec,
    async transaction<T>(fn: (tx: Tx) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
      return withRetries(opts, async () => {
        const client = await pool.connect();
        let broken = false;
        try {
          await client.query(beginStatement(opts));
          const result = await fn(wrap(client));
          await client.query('COMMIT');
          return result;
        } catch (err) {
          try {
            await client.query('ROLLBACK');
          } catch {
            broken = true; // connection is gone; drop it from the pool
          }
          throw err;
        } finally {
          client.release(broken);
        }
      });
    },
    async close(): Promise<void> {
      await pool.end();
    },
  };
}
