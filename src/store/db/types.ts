/** One row as returned by a query: column name → parsed value. */
export type Row = Record<string, unknown>;

/** What a statement returned. */
export interface QueryResult<T = Row> {
  rows: T[];
  /** Rows returned by a SELECT or changed by INSERT/UPDATE/DELETE. */
  rowCount: number;
}

/** Anything that can run SQL with `$1…$n` parameters. */
export interface Queryable {
  query<T = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /**
   * Runs a statement and hands each row to `onRow` as it arrives, keeping none, for results
   * too large to hold at once; resolves to the number of rows. If `onRow` throws, it is not
   * called again and the call rejects with that error once the statement has finished.
   */
  queryEach<T = Row>(sql: string, params: readonly unknown[], onRow: (row: T) => void): Promise<number>;
}

/** A statement runner bound to one open transaction. */
export interface Tx extends Queryable {
  /** Runs several statements separated by `;` with no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** How a transaction is isolated. */
export type Isolation = 'read committed' | 'repeatable read' | 'serializable';

/** Options of `Db.transaction`. */
export interface TransactionOptions {
  /** @default 'read committed' */
  isolation?: Isolation;
  /**
   * How many times to re-run the whole callback after a serialisation failure or deadlock
   * (SQLSTATE 40001 / 40P01). The callback must therefore be safe to repeat.
   * @default 5 for serializable, 0 otherwise
   */
  retries?: number;
}

/**
 * The database, whichever driver backs it. Both drivers return the same JavaScript types:
 * int8 → number (throws beyond 2^53), numeric → string, timestamptz → ISO-8601 UTC string,
 * json/jsonb → parsed value, bytea → Buffer.
 */
export interface Db extends Tx {
  readonly kind: 'pglite' | 'postgres';
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: Tx) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Closes connections; the Db cannot be used afterwards. */
  close(): Promise<void>;
}
