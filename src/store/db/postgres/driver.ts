import pg from 'pg';
import { PG_TYPE, sharedParsers } from '../parsers.js';
import { beginStatement, withRetries } from '../retry.js';
import type { Db, QueryResult, TransactionOptions, Tx } from '../types.js';

/** Options of the PostgreSQL driver. */
export interface PostgresDbOptions {
  /** `postgres://user@host:port/db` */
  connectionString: string;
  /** @default 10 */
  maxConnections?: number;
}

/**
 * Arrays of the shared types, by array OID → element OID. PGlite parses array elements with
 * the element type's parser; node-postgres would use its own (int8[] → strings, numeric[] →
 * floats, timestamptz[] → Dates), so these are parsed as text arrays and mapped here.
 */
const ARRAY_ELEMENT: Record<number, number> = {
  1016: PG_TYPE.int8,
  1231: PG_TYPE.numeric,
  1115: PG_TYPE.timestamp,
  1185: PG_TYPE.timestamptz,
};
const defaultParser = pg.types.getTypeParser as (oid: number, format?: 'text' | 'binary') => unknown;
const TEXT_ARRAY_OID = 1009;
const parseTextArray = defaultParser(TEXT_ARRAY_OID, 'text') as (value: string) => unknown;

function mapElements(value: unknown, parse: (value: string) => unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => mapElements(v, parse));
  return value === null ? null : parse(value as string);
}

function typeParser(oid: number, format?: string): unknown {
  const shared = sharedParsers[oid];
  if (shared) return shared;
  const element = sharedParsers[ARRAY_ELEMENT[oid] ?? -1];
  if (element) return (value: string) => mapElements(parseTextArray(value), element);
  return defaultParser(oid, format as 'text');
}

/**
 * Runs `statement` on `client`, handing each row to `onRow` as the driver parses it. A query
 * with a row listener and no callback keeps no rows, so a large result never sits in memory
 * (holding one was mostly garbage-collector work).
 */
function streamRows<T>(client: pg.PoolClient, statement: { sql: string; params: readonly unknown[] }, onRow: (row: T) => void): Promise<number> {
  return new Promise((resolve, reject) => {
    const query = new pg.Query({ text: statement.sql, values: statement.params as unknown[] });
    let rows = 0;
    let failure: { error: unknown } | undefined;
    query.on('row', (row: T) => {
      rows++;
      if (failure) return;
      try {
        onRow(row);
      } catch (error) {
        // The statement still runs to its end, so the connection stays usable.
        failure = { error };
      }
    });
    query.on('error', reject);
    query.on('end', () => (failure ? reject(failure.error) : resolve(rows)));
    client.query(query);
  });
}

/** A pooled PostgreSQL database; many Assay processes may share one. */
export async function createPostgresDb(options: PostgresDbOptions): Promise<Db> {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    // Sessions in UTC so timestamps print the same on every server.
    options: '-c TimeZone=UTC',
    types: {
      getTypeParser: typeParser as typeof pg.types.getTypeParser,
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
    async queryEach<T>(sql: string, params: readonly unknown[], onRow: (row: T) => void): Promise<number> {
      // The pool runs only whole statements; a streamed one needs a connection of its own.
      if (q instanceof pg.Pool) {
        const client = await q.connect();
        try {
          return await streamRows(client, { sql, params }, onRow);
        } finally {
          client.release();
        }
      }
      return streamRows(q, { sql, params }, onRow);
    },
    async exec(sql: string): Promise<void> {
      await q.query(sql);
    },
  });
  const root = wrap(pool);

  return {
    kind: 'postgres',
    query: root.query,
    queryEach: root.queryEach,
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
