import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MigrationEdited } from '../../src/core/errors.js';
import {
  DEFAULT_MIGRATIONS_DIR,
  loadMigrations,
  migrate,
  migrationStatus,
  type Migration,
} from '../../src/store/db/migrator.js';
import { createPgliteDb } from '../../src/store/db/pglite/driver.js';
import { createPostgresDb } from '../../src/store/db/postgres/driver.js';
import type { Db, TransactionOptions } from '../../src/store/db/types.js';
import { createTestPostgres, eachBackend, type OpenedDb, type TestBackend } from '../support/databases.js';

const ISO_UTC = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const scratch: string[] = [];
async function tempDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `assay-db-${label}-`));
  scratch.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

/** Opens a database from `backend` once for the enclosing describe (`all`) or per test (`each`). */
function useDb(backend: TestBackend, scope: 'all' | 'each'): () => Db {
  let opened: OpenedDb | undefined;
  const open = async (): Promise<void> => {
    opened = await backend.open();
  };
  const close = async (): Promise<void> => {
    await opened?.cleanup();
    opened = undefined;
  };
  if (scope === 'all') {
    beforeAll(open);
    afterAll(close);
  } else {
    beforeEach(open);
    afterEach(close);
  }
  return () => {
    if (!opened) throw new Error('database is not open');
    return opened.db;
  };
}

async function tableExists(db: Db, name: string): Promise<boolean> {
  const { rows } = await db.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [name]);
  return rows[0]?.t != null;
}

async function ledger(db: Db): Promise<{ version: number; name: string; checksum: string; applied_at: string }[]> {
  const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: string }>(
    'SELECT version, name, checksum, applied_at FROM assay_migrations ORDER BY version',
  );
  return rows;
}

/** Writes `files` (name → SQL) into a fresh temp directory and returns it. */
async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await tempDir('migrations');
  for (const [name, sql] of Object.entries(files)) await writeFile(join(dir, name), sql);
  return dir;
}

/** An error carrying a SQLSTATE, as both drivers raise them. */
function sqlError(code: string): Error {
  return Object.assign(new Error(`simulated SQLSTATE ${code}`), { code });
}

for (const backend of eachBackend({ includeUnavailable: true })) {
  describe.skipIf(!backend.available)(`store contract [${backend.name}]`, () => {
    describe('queries', () => {
      const db = useDb(backend, 'all');

      it('runs parameterised statements and reports rows and rowCount', async () => {
        await db().exec('CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL)');

        const inserted = await db().query('INSERT INTO items (id, label) VALUES ($1, $2), ($3, $4), ($5, $6)', [
          1,
          'one',
          2,
          'two',
          3,
          "'); DROP TABLE items; --",
        ]);
        expect(inserted).toEqual({ rows: [], rowCount: 3 });

        const selected = await db().query<{ id: number; label: string }>(
          'SELECT id, label FROM items WHERE id >= $1 ORDER BY id',
          [2],
        );
        expect(selected).toEqual({
          rows: [
            { id: 2, label: 'two' },
            { id: 3, label: "'); DROP TABLE items; --" },
          ],
          rowCount: 2,
        });

        expect(await db().query('SELECT id FROM items WHERE id = $1', [99])).toEqual({ rows: [], rowCount: 0 });
        expect((await db().query('UPDATE items SET label = $1 WHERE id <= $2', ['low', 2])).rowCount).toBe(2);
        expect((await db().query('UPDATE items SET label = $1 WHERE id = $2', ['none', 99])).rowCount).toBe(0);
        expect(await db().query('DELETE FROM items WHERE id = $1 RETURNING label', [1])).toEqual({
          rows: [{ label: 'low' }],
          rowCount: 1,
        });
        expect(await db().query('SELECT count(*) AS n FROM items')).toEqual({ rows: [{ n: 2 }], rowCount: 1 });
      });

      it('parses int8, numeric, timestamptz, jsonb, text[] and bytea to the same JavaScript values', async () => {
        await db().exec(`CREATE TABLE typed (
          id int8 PRIMARY KEY,
          amount numeric,
          at timestamptz,
          doc jsonb,
          tags text[],
          payload bytea,
          counts int8[],
          amounts numeric[],
          ats timestamptz[],
          blobs bytea[],
          grid int8[][]
        )`);
        const doc = { a: 1, nested: { list: [1, 'two', null, true] }, text: 'é ✓' };
        const payload = Buffer.from([0, 1, 2, 0x5c, 0xff]);
        await db().query('INSERT INTO typed VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)', [
          Number.MAX_SAFE_INTEGER,
          '12345678901234567890.123456789',
          '2026-11-23T15:28:15.123+02:00',
          doc,
          ['a', 'b,c', '"quoted"', 'NULL', null],
          payload,
          [1, 2],
          ['1.50'],
          ['2026-01-01T00:00:00Z'],
          [payload],
          [
            [1, 2],
            [3, null],
          ],
        ]);
        await db().query('INSERT INTO typed (id) VALUES ($1)', [2]);

        const { rows } = await db().query('SELECT * FROM typed ORDER BY id DESC');
        expect(rows).toEqual([
          {
            id: Number.MAX_SAFE_INTEGER,
            amount: '12345678901234567890.123456789',
            at: '2026-11-23T13:28:15.123Z',
            doc,
            tags: ['a', 'b,c', '"quoted"', 'NULL', null],
            payload,
            counts: [1, 2],
            amounts: ['1.50'],
            ats: ['2026-01-01T00:00:00.000Z'],
            blobs: [payload],
            grid: [
              [1, 2],
              [3, null],
            ],
          },
          {
            id: 2,
            amount: null,
            at: null,
            doc: null,
            tags: null,
            payload: null,
            counts: null,
            amounts: null,
            ats: null,
            blobs: null,
            grid: null,
          },
        ]);
        // toEqual treats Uint8Array and Buffer with equal bytes as equal; the contract says Buffer.
        expect(Buffer.isBuffer(rows[0]?.payload)).toBe(true);
        expect((rows[0]?.blobs as unknown[]).every((b) => Buffer.isBuffer(b))).toBe(true);

        const { rows: computed } = await db().query<{ now: string; sum: number; plain: string }>(
          `SELECT now() AS now, sum(x)::int8 AS sum, '2026-11-23 15:28:15'::timestamp AS plain FROM (VALUES (1), (2)) AS v (x)`,
        );
        expect(computed[0]?.now).toMatch(ISO_UTC);
        expect(computed[0]?.sum).toBe(3);
        expect(computed[0]?.plain).toBe('2026-11-23T15:28:15.000Z');
      });

      it('streams rows one by one with queryEach, parsed like query, on the database and in a transaction', async () => {
        const sql = `SELECT n::int8 AS n, ('2026-11-23T15:28:15.123Z'::timestamptz + n * interval '1 second') AS at, jsonb_build_object('n', n) AS doc
                       FROM generate_series($1::int, $2::int) AS g (n) ORDER BY n`;
        const whole = await db().query(sql, [1, 2500]);
        const streamed: unknown[] = [];
        expect(await db().queryEach(sql, [1, 2500], (row) => streamed.push(row))).toBe(2500);
        expect(streamed).toEqual(whole.rows);
        const inTx = await db().transaction(async (tx) => {
          const seen: number[] = [];
          const n = await tx.queryEach<{ n: number }>(sql, [5, 7], (row) => seen.push(row.n));
          return { n, seen };
        });
        expect(inTx).toEqual({ n: 3, seen: [5, 6, 7] });
        expect(await db().queryEach('SELECT 1 AS one WHERE false', [], () => undefined)).toBe(0);
      });

      it('stops handing rows over when the handler throws, rejects with its error, and stays usable', async () => {
        const sql = 'SELECT n FROM generate_series(1, $1::int) AS g (n) ORDER BY n';
        const boom = new Error('handler failed at 3');
        for (const run of [
          (onRow: (row: { n: number }) => void) => db().queryEach(sql, [1000], onRow),
          (onRow: (row: { n: number }) => void) => db().transaction((tx) => tx.queryEach(sql, [1000], onRow)),
        ]) {
          const seen: number[] = [];
          await expect(
            run((row) => {
              seen.push(row.n);
              if (row.n === 3) throw boom;
            }),
          ).rejects.toBe(boom);
          expect(seen).toEqual([1, 2, 3]);
        }
        await expect(db().queryEach('SELECT * FROM no_such_table', [], () => undefined)).rejects.toThrow(/no_such_table/);
        expect(await db().transaction((tx) => tx.query('SELECT 1 AS ok'))).toEqual({ rows: [{ ok: 1 }], rowCount: 1 });
      });

      it('refuses an int8 beyond 2^53 instead of rounding it, and stays usable', async () => {
        await expect(db().query('SELECT 9007199254740993::int8 AS n')).rejects.toThrow(RangeError);
        expect((await db().query('SELECT 1 AS ok')).rows).toEqual([{ ok: 1 }]);
      });
    });

    describe('transactions', () => {
      const db = useDb(backend, 'all');

      beforeAll(async () => {
        await db().exec('CREATE TABLE ledger_rows (id text PRIMARY KEY, attempt int)');
      });
      beforeEach(async () => {
        await db().query('DELETE FROM ledger_rows');
      });

      const ids = async (): Promise<string[]> =>
        (await db().query<{ id: string }>('SELECT id FROM ledger_rows ORDER BY id')).rows.map((r) => r.id);

      it('commits when the callback resolves and returns its value', async () => {
        const result = await db().transaction(async (tx) => {
          await tx.query('INSERT INTO ledger_rows (id) VALUES ($1), ($2)', ['a', 'b']);
          return (await tx.query('SELECT count(*) AS n FROM ledger_rows')).rows[0];
        });
        expect(result).toEqual({ n: 2 });
        expect(await ids()).toEqual(['a', 'b']);
      });

      it('rolls back when the callback throws, and rethrows the same error', async () => {
        const boom = new Error('boom');
        await expect(
          db().transaction(async (tx) => {
            await tx.query('INSERT INTO ledger_rows (id) VALUES ($1)', ['doomed']);
            expect((await tx.query('SELECT id FROM ledger_rows')).rowCount).toBe(1);
            throw boom;
          }),
        ).rejects.toBe(boom);
        expect(await ids()).toEqual([]);
      });

      it('propagates a failing statement with its SQLSTATE and keeps none of the transaction', async () => {
        await db().query('INSERT INTO ledger_rows (id) VALUES ($1)', ['taken']);
        await expect(
          db().transaction(async (tx) => {
            await tx.query('INSERT INTO ledger_rows (id) VALUES ($1)', ['fresh']);
            await tx.query('INSERT INTO ledger_rows (id) VALUES ($1)', ['taken']);
          }),
        ).rejects.toMatchObject({ code: '23505' });
        expect(await ids()).toEqual(['taken']);
        // The connection is usable again afterwards.
        await db().transaction((tx) => tx.query('INSERT INTO ledger_rows (id) VALUES ($1)', ['after']));
        expect(await ids()).toEqual(['after', 'taken']);
      });

      it.each([
        ['(default)', 'read committed', undefined],
        ['repeatable read', 'repeatable read', 'repeatable read'],
        ['serializable', 'serializable', 'serializable'],
      ] as const)('runs isolation %s as %s', async (_label, expected, isolation) => {
        const options: TransactionOptions = isolation ? { isolation } : {};
        const level = await db().transaction(
          async (tx) => (await tx.query<{ level: string }>(`SELECT current_setting('transaction_isolation') AS level`)).rows[0]?.level,
          options,
        );
        expect(level).toBe(expected);
      });

      /** Runs a transaction whose callback throws `failures[n]` on attempt n, then succeeds. */
      async function attempts(failures: Error[], options: TransactionOptions): Promise<{ runs: number; error?: unknown }> {
        let runs = 0;
        try {
          await db().transaction(async (tx) => {
            runs++;
            await tx.query('INSERT INTO ledger_rows (id, attempt) VALUES ($1, $2)', [`attempt-${runs}`, runs]);
            const failure = failures[runs - 1];
            if (failure) throw failure;
          }, options);
          return { runs };
        } catch (error) {
          return { runs, error };
        }
      }

      it('re-runs a serializable transaction that failed with 40001 or 40P01, keeping only the last attempt', async () => {
        const outcome = await attempts([sqlError('40001'), sqlError('40P01')], { isolation: 'serializable' });
        expect(outcome).toEqual({ runs: 3 });
        expect(await ids()).toEqual(['attempt-3']);
      });

      it('gives up after the retry budget and rethrows the serialisation failure', async () => {
        const failure = sqlError('40001');
        const outcome = await attempts(Array<Error>(10).fill(failure), { isolation: 'serializable' });
        expect(outcome).toEqual({ runs: 6, error: failure }); // 1 + the default 5 retries
        expect(await ids()).toEqual([]);

        const bounded = await attempts(Array<Error>(10).fill(failure), { isolation: 'serializable', retries: 1 });
        expect(bounded.runs).toBe(2);
      });

      it('does not re-run on other errors, nor on 40001 outside serializable unless asked', async () => {
        const unique = sqlError('23505');
        expect(await attempts([unique], { isolation: 'serializable' })).toEqual({ runs: 1, error: unique });
        const plain = new Error('not a database error');
        expect(await attempts([plain], { isolation: 'serializable' })).toEqual({ runs: 1, error: plain });

        const conflict = sqlError('40001');
        expect(await attempts([conflict], {})).toEqual({ runs: 1, error: conflict });
        expect(await attempts([conflict, conflict], { retries: 2 })).toEqual({ runs: 3 });
        expect(await ids()).toEqual(['attempt-3']);
      });
    });

    describe('migrations', () => {
      const db = useDb(backend, 'each');

      it('applies the shipped migrations to an empty database once, records versions and checksums, and reports ok', async () => {
        const shipped = loadMigrations();
        expect(shipped[0]?.name).toBe('0001_identity.sql');
        expect(await migrationStatus(db())).toMatchObject({ ok: false, pending: shipped.length });

        const report = await migrate(db());
        expect(report.applied.map((m) => [m.version, m.name])).toEqual(shipped.map((m) => [m.version, m.name]));
        expect(report.alreadyApplied).toBe(0);

        const rows = await ledger(db());
        expect(rows).toHaveLength(shipped.length);
        for (const [i, m] of shipped.entries()) {
          const sql = await readFile(join(DEFAULT_MIGRATIONS_DIR, m.name));
          expect(rows[i]).toMatchObject({ version: m.version, name: m.name, checksum: createHash('sha256').update(sql).digest('hex') });
          expect(rows[i]?.applied_at).toMatch(ISO_UTC);
        }
        for (const table of ['principals', 'api_tokens', 'audit_entries', 'audit_leaves']) expect(await tableExists(db(), table)).toBe(true);

        const again = await migrate(db());
        expect(again).toEqual({ applied: [], alreadyApplied: shipped.length });
        expect(await ledger(db())).toHaveLength(shipped.length);
        expect(await migrationStatus(db())).toEqual({ ok: true, pending: 0 });
      });

      it('refuses to run when an applied migration file was edited, naming the file', async () => {
        const dir = await migrationsDir({
          '0001_a.sql': 'CREATE TABLE mig_a (id int);\n',
          '0002_b.sql': 'CREATE TABLE mig_b (id int);\n',
        });
        const first = await migrate(db(), loadMigrations(dir));
        expect(first.applied.map((m) => m.name)).toEqual(['0001_a.sql', '0002_b.sql']);
        expect(await migrationStatus(db(), loadMigrations(dir))).toEqual({ ok: true, pending: 0 });

        // One byte: `int` → `Int`. Same meaning to PostgreSQL, still a different file.
        const path = join(dir, '0002_b.sql');
        const bytes = await readFile(path);
        bytes[bytes.indexOf('int')] = 'I'.charCodeAt(0);
        await writeFile(path, bytes);
        // A new migration alongside must not be applied while history diverges.
        await writeFile(join(dir, '0003_c.sql'), 'CREATE TABLE mig_c (id int);\n');

        const edited = loadMigrations(dir);
        const refused = migrate(db(), edited);
        await expect(refused).rejects.toBeInstanceOf(MigrationEdited);
        await expect(refused).rejects.toMatchObject({
          code: 'migration_edited',
          version: 2,
          fileName: '0002_b.sql',
          message: expect.stringContaining('0002_b.sql'),
        });
        expect(await tableExists(db(), 'mig_c')).toBe(false);
        expect((await ledger(db())).map((r) => r.version)).toEqual([1, 2]);

        const status = await migrationStatus(db(), edited);
        expect(status.ok).toBe(false);
        expect(status.problem).toContain('0002_b.sql');
      });

      it('refuses to run when an applied migration file was removed', async () => {
        const dir = await migrationsDir({
          '0001_a.sql': 'CREATE TABLE mig_a (id int);\n',
          '0002_b.sql': 'CREATE TABLE mig_b (id int);\n',
        });
        await migrate(db(), loadMigrations(dir));
        await unlink(join(dir, '0002_b.sql'));

        const remaining = loadMigrations(dir);
        expect(remaining.map((m) => m.name)).toEqual(['0001_a.sql']);
        const refused = migrate(db(), remaining);
        await expect(refused).rejects.toBeInstanceOf(MigrationEdited);
        await expect(refused).rejects.toMatchObject({ version: 2, fileName: '0002_b.sql', message: /missing/ });

        const status = await migrationStatus(db(), remaining);
        expect(status.ok).toBe(false);
        expect(status.problem).toContain('0002_b.sql');
      });

      it('leaves no trace of a migration that fails halfway, and applies it once fixed', async () => {
        const dir = await migrationsDir({
          '0001_a.sql': 'CREATE TABLE mig_a (id int);\n',
          '0002_half.sql': 'CREATE TABLE half_done (id int);\nINSERT INTO no_such_table VALUES (1);\n',
        });
        await expect(migrate(db(), loadMigrations(dir))).rejects.toMatchObject({ code: '42P01' });

        expect(await tableExists(db(), 'mig_a')).toBe(true);
        expect(await tableExists(db(), 'half_done')).toBe(false);
        expect((await ledger(db())).map((r) => r.version)).toEqual([1]);
        expect(await migrationStatus(db(), loadMigrations(dir))).toMatchObject({ ok: false, pending: 1 });

        await writeFile(join(dir, '0002_half.sql'), 'CREATE TABLE half_done (id int);\n');
        const report = await migrate(db(), loadMigrations(dir));
        expect(report.applied.map((m) => m.name)).toEqual(['0002_half.sql']);
        expect(report.alreadyApplied).toBe(1);
        expect(await tableExists(db(), 'half_done')).toBe(true);
      });

      it('records a migration and its ledger row atomically: a failed ledger insert undoes the migration', async () => {
        // The migration itself succeeds, but installs a trigger that makes its own ledger insert fail.
        const dir = await migrationsDir({
          '0001_sabotage.sql': `CREATE TABLE sabotage_done (id int);
CREATE FUNCTION refuse_ledger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'ledger refused' USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER refuse_ledger BEFORE INSERT ON assay_migrations FOR EACH ROW EXECUTE FUNCTION refuse_ledger();
`,
        });
        await expect(migrate(db(), loadMigrations(dir))).rejects.toMatchObject({ code: '23514' });
        expect(await tableExists(db(), 'sabotage_done')).toBe(false);
        expect(await ledger(db())).toEqual([]);
        expect(await migrationStatus(db(), loadMigrations(dir))).toMatchObject({ ok: false, pending: 1 });
      });
    });

    describe.runIf(backend.name === 'postgres')('concurrency (PostgreSQL only)', () => {
      const db = useDb(backend, 'each');

      /** Two doctors on call; each transaction takes itself off only if the other stays on (write skew). */
      async function raceOffCall(options: TransactionOptions): Promise<{
        outcomes: PromiseSettledResult<boolean>[];
        runs: number;
        onCall: number;
      }> {
        await db().exec('DROP TABLE IF EXISTS on_call; CREATE TABLE on_call (doctor int PRIMARY KEY, on_duty boolean NOT NULL)');
        await db().query('INSERT INTO on_call VALUES (1, true), (2, true)');
        let runs = 0;
        let arrived = 0;
        let bothRead = (): void => undefined;
        const barrier = new Promise<void>((resolve) => (bothRead = resolve));
        const goOff = (doctor: number): Promise<boolean> =>
          db().transaction(async (tx) => {
            const firstRun = ++runs <= 2;
            const { rows } = await tx.query<{ n: number }>('SELECT count(*) AS n FROM on_call WHERE on_duty');
            // First runs wait until both have read, so both decide on the same snapshot.
            if (firstRun && ++arrived === 2) bothRead();
            if (firstRun) await barrier;
            if ((rows[0]?.n ?? 0) < 2) return false;
            await tx.query('UPDATE on_call SET on_duty = false WHERE doctor = $1', [doctor]);
            return true;
          }, options);
        const outcomes = await Promise.allSettled([goOff(1), goOff(2)]);
        const { rows } = await db().query<{ n: number }>('SELECT count(*) AS n FROM on_call WHERE on_duty');
        return { outcomes, runs, onCall: rows[0]?.n ?? -1 };
      }

      it('a real write-skew conflict fails with 40001 when retries are off', async () => {
        const { outcomes, runs } = await raceOffCall({ isolation: 'serializable', retries: 0 });
        expect(runs).toBe(2);
        const rejected = outcomes.filter((o) => o.status === 'rejected');
        expect(rejected).toHaveLength(1);
        expect(rejected[0]).toMatchObject({ reason: { code: '40001' } });
      });

      it('retries the losing serializable transaction, which then sees the committed state', async () => {
        const { outcomes, runs, onCall } = await raceOffCall({ isolation: 'serializable' });
        expect(runs).toBeGreaterThan(2);
        expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled']);
        const wentOff = outcomes.filter((o) => o.status === 'fulfilled' && o.value);
        expect(wentOff).toHaveLength(1);
        expect(onCall).toBe(1);
      });

      it('two migrate calls racing on one fresh database both succeed and apply each migration once', async () => {
        const dir = await migrationsDir({
          '0001_identity.sql': await readFile(join(DEFAULT_MIGRATIONS_DIR, '0001_identity.sql'), 'utf8'),
          '0002_slow.sql': 'CREATE TABLE race_slow (id int);\nSELECT pg_sleep(0.3);\n',
          '0003_after.sql': 'CREATE TABLE race_after (id int);\n',
        });
        const migrations: Migration[] = loadMigrations(dir);
        const database = await createTestPostgres();
        const [a, b] = await Promise.all([
          createPostgresDb({ connectionString: database.url }),
          createPostgresDb({ connectionString: database.url }),
        ]);
        try {
          const reports = await Promise.all([migrate(a, migrations), migrate(b, migrations)]);
          expect(reports.map((r) => r.applied.length + r.alreadyApplied)).toEqual([3, 3]);
          const appliedNames = reports.flatMap((r) => r.applied.map((m) => m.name)).sort();
          expect(appliedNames).toEqual(['0001_identity.sql', '0002_slow.sql', '0003_after.sql']);
          expect((await ledger(a)).map((r) => r.version)).toEqual([1, 2, 3]);
          expect(await migrationStatus(b, migrations)).toEqual({ ok: true, pending: 0 });
        } finally {
          await Promise.all([a.close(), b.close()]);
          await database.drop();
        }
      });
    });

    describe.runIf(backend.name === 'pglite')('persistence (PGlite on disk)', () => {
      it('keeps data across close and reopen of the same dataDir', async () => {
        const dataDir = join(await tempDir('pglite'), 'db');
        const first = await createPgliteDb({ dataDir });
        try {
          await migrate(first);
          await first.exec('CREATE TABLE kept (id int PRIMARY KEY, doc jsonb)');
          await first.transaction((tx) => tx.query('INSERT INTO kept VALUES ($1, $2)', [1, { kept: true }]));
        } finally {
          await first.close();
        }

        const second = await createPgliteDb({ dataDir });
        try {
          expect((await second.query('SELECT id, doc FROM kept')).rows).toEqual([{ id: 1, doc: { kept: true } }]);
          expect(await migrationStatus(second)).toEqual({ ok: true, pending: 0 });
        } finally {
          await second.close();
        }
      });
    });
  });
}
