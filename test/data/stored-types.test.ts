import { describe, expect, it } from 'vitest';
import { verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import type { DsseEnvelope } from '../../src/core/index.js';
import { eachBackend } from '../support/databases.js';
import { parquetFixtures, parquetRows, upload, withIngesterAndPromoter } from './support.js';

type Column = { name: string; type: string; storedAs?: string; nullable: boolean };
type Check = { name: string; version: number; status: string; blocking: boolean; result: string; evidence: Record<string, unknown> };

/**
 * A column's logical type (what checks, contract and profile reason about) and the type the
 * certified Parquet holds it as (`storedAs`): a Parquet DECIMAL(18,2) amount is DOUBLE stored as
 * DECIMAL(18,2) in the version, the profile and the signed manifest, and certified exactly,
 * never as a binary double; so are the other types the logical schema collapses. A contract's
 * exact DECIMAL arriving as binary floating point blocks. Versions recorded before stored types
 * were (no `storedAs`) still read, promote and verify.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('stored types [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const { parquetOf } = parquetFixtures('stored-types');
  const declared = { classification: 'internal', owner: 'ingester' };
  const send = (name: string, body: Buffer | string, contentType = 'application/vnd.apache.parquet'): ReturnType<typeof upload> =>
    upload(suite.t, { name, body, token: suite.ingester.token, contentType, query: declared });
  const get = (path: string) => suite.t.app.inject({ method: 'GET', url: `/api/v1/datasets/${path}`, headers: { authorization: `Bearer ${suite.ingester.token}` } });
  const promote = (name: string, version: number) =>
    suite.t.app.inject({ method: 'POST', url: `/api/v1/datasets/${name}/versions/${version}/promote`, headers: { authorization: `Bearer ${suite.promoter.token}` }, payload: {} });
  const schemaCheck = async (name: string, version: number): Promise<Check> => {
    const res = await get(`${name}/versions/${version}/checks`);
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ checks: Check[] }>().checks.find((c) => c.name === 'schema')!;
  };
  /** The stored types of a certified Parquet blob, as DuckDB reads it back. */
  const parquetTypes = async (hash: string): Promise<string[]> =>
    (await parquetRows(suite.t, hash, 'DESCRIBE SELECT * FROM $file')).map((r) => r.column_type as string);

  const DECIMALS =
    "SELECT * FROM (VALUES (1::INTEGER, 12345678901234.56::DECIMAL(18,2), '1234567890123456789012345678.0123456789'::DECIMAL(38,10)), (2, 0.10, 0.0000000001), (3, -0.01, NULL)) t(id, amount, oracle)";
  const DECIMAL_SCHEMA: Column[] = [
    { name: 'id', type: 'BIGINT', storedAs: 'INTEGER', nullable: false },
    { name: 'amount', type: 'DOUBLE', storedAs: 'DECIMAL(18,2)', nullable: false },
    { name: 'oracle', type: 'DOUBLE', storedAs: 'DECIMAL(38,10)', nullable: true },
  ];

  it('DECIMAL(18,2) and DECIMAL(38,10) columns are DOUBLE stored as that DECIMAL in the version, profile and signed manifest, and certified exactly', async () => {
    const res = await send('ledger', await parquetOf('ledger', DECIMALS));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().schema.columns).toEqual(DECIMAL_SCHEMA);
    // As stored: read back from the database.
    expect((await get('ledger/versions/1')).json<DatasetVersionRecord>().schema.columns).toEqual(DECIMAL_SCHEMA);
    const profile = (await get('ledger/versions/1/profile')).json<{ columns: Array<{ name: string; type: string; storedAs?: string }> }>();
    expect(profile.columns.map((c) => [c.name, c.type, c.storedAs])).toEqual(DECIMAL_SCHEMA.map((c) => [c.name, c.type, c.storedAs]));

    const promoted = await promote('ledger', 1);
    expect(promoted.statusCode, promoted.body).toBe(200);
    const { version, manifest } = promoted.json<{ version: DatasetVersionRecord; manifest: DsseEnvelope }>();
    const statement = verifyDatasetManifest(manifest, (k) => suite.t.keyring.publicKey(k));
    expect(statement.predicate.schema.columns).toEqual(DECIMAL_SCHEMA);

    const hash = version.certified!.parquetSha256;
    expect(await parquetTypes(hash)).toEqual(['INTEGER', 'DECIMAL(18,2)', 'DECIMAL(38,10)']);
    expect(await parquetRows(suite.t, hash, 'SELECT amount::VARCHAR AS amount, oracle::VARCHAR AS oracle FROM $file')).toEqual([
      { amount: '12345678901234.56', oracle: '1234567890123456789012345678.0123456789' },
      { amount: '0.10', oracle: '0.0000000001' },
      { amount: '-0.01', oracle: null },
    ]);
    // Summed exactly, to the cent: as doubles 0.10 − 0.01 is 0.09000000000000001.
    expect(await parquetRows(suite.t, hash, 'SELECT sum(amount)::VARCHAR AS total FROM $file WHERE id > 1')).toEqual([{ total: '0.09' }]);
  });

  it('other types the logical schema collapses name their stored type, which the certified Parquet holds', async () => {
    const select = `SELECT 1.5::FLOAT AS f, TIMESTAMPTZ '2024-05-01 10:30:00+02' AS tz, TIME '10:30:00' AS tm, '\\xAA'::BLOB AS b, INTERVAL 1 DAY AS iv,
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID AS u, {'x': 1} AS s, [1, 2] AS l`;
    const res = await send('collapsed', await parquetOf('collapsed', select));
    expect(res.statusCode, res.body).toBe(201);
    const columns = res.json<DatasetVersionRecord>().schema.columns;
    expect(columns.map((c) => [c.name, c.type, c.storedAs])).toEqual([
      ['f', 'DOUBLE', 'FLOAT'],
      ['tz', 'TIMESTAMP', 'TIMESTAMP WITH TIME ZONE'],
      ['tm', 'OTHER', 'TIME'],
      ['b', 'OTHER', 'BLOB'],
      ['iv', 'OTHER', 'INTERVAL'],
      ['u', 'OTHER', 'UUID'],
      ['s', 'OTHER', 'STRUCT(x INTEGER)'],
      ['l', 'OTHER', 'INTEGER[]'],
    ]);
    const promoted = await promote('collapsed', 1);
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect(await parquetTypes(promoted.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256)).toEqual(columns.map((c) => c.storedAs));
  });

  it('JSON Lines columns are stored as DuckDB reads them, and every CSV column as VARCHAR (its values as written)', async () => {
    const jsonl = await send('events', '{"n": 1, "x": 1.5, "o": {"k": 1}, "m": 1}\n{"n": 2, "x": 2, "o": {"k": 2}, "m": "z"}\n', 'application/x-ndjson');
    expect(jsonl.statusCode, jsonl.body).toBe(201);
    expect(jsonl.json<DatasetVersionRecord>().schema.columns.map((c) => [c.name, c.type, c.storedAs])).toEqual([
      ['n', 'BIGINT', 'BIGINT'],
      ['x', 'DOUBLE', 'DOUBLE'],
      ['o', 'OTHER', 'STRUCT(k BIGINT)'],
      ['m', 'OTHER', 'JSON'],
    ]);
    const csv = await send('bookings', 'id,amount,note\n1,12.50,a\n2,0.10,b\n', 'text/csv');
    expect(csv.statusCode, csv.body).toBe(201);
    expect(csv.json<DatasetVersionRecord>().schema.columns.map((c) => [c.name, c.type, c.storedAs])).toEqual([
      ['id', 'BIGINT', 'VARCHAR'],
      ['amount', 'DOUBLE', 'VARCHAR'],
      ['note', 'VARCHAR', 'VARCHAR'],
    ]);
    const promoted = await promote('bookings', 1);
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect(await parquetTypes(promoted.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256)).toEqual(['VARCHAR', 'VARCHAR', 'VARCHAR']);
  });

  it("a contract's DECIMAL amount arriving as DOUBLE fails schema@4 and blocks; as another DECIMAL it warns; as the same it passes", async () => {
    const amounts = (type: string) => `SELECT * FROM (VALUES (1, 12.34::${type}), (2, 0.10::${type})) t(id, amount)`;
    expect((await send('payments', await parquetOf('p1', amounts('DECIMAL(18,2)')))).statusCode).toBe(201);
    expect((await promote('payments', 1)).statusCode).toBe(200);

    const asDouble = await send('payments', await parquetOf('p2', amounts('DOUBLE')));
    expect(asDouble.statusCode, asDouble.body).toBe(201);
    expect(asDouble.json<DatasetVersionRecord>().blockingFailures).toEqual(['schema']);
    const failed = await schemaCheck('payments', 2);
    expect(failed).toMatchObject({ version: 4, status: 'fail', blocking: true, result: 'breaks the contract of version 1: stored exactly no more: amount DECIMAL(18,2)→DOUBLE' });
    expect(failed.evidence.stored).toEqual([{ column: 'amount', contractStoredAs: 'DECIMAL(18,2)', storedAs: 'DOUBLE', losesExactness: true }]);

    expect((await send('payments', await parquetOf('p3', amounts('DECIMAL(38,10)')))).statusCode).toBe(201);
    expect(await schemaCheck('payments', 3)).toMatchObject({ status: 'warn', result: 'stored type changed from the contract of version 1: amount DECIMAL(18,2)→DECIMAL(38,10)' });
    expect((await schemaCheck('payments', 3)).evidence.stored).toEqual([{ column: 'amount', contractStoredAs: 'DECIMAL(18,2)', storedAs: 'DECIMAL(38,10)', losesExactness: false }]);

    expect((await send('payments', await parquetOf('p4', amounts('DECIMAL(18,2)')))).statusCode).toBe(201);
    expect(await schemaCheck('payments', 4)).toMatchObject({ status: 'pass', evidence: expect.objectContaining({ stored: [] }) });

    // Doubles arriving as 32-bit floats lose digits too.
    expect((await send('measures', await parquetOf('m1', amounts('DOUBLE')))).statusCode).toBe(201);
    expect((await promote('measures', 1)).statusCode).toBe(200);
    expect((await send('measures', await parquetOf('m2', amounts('FLOAT')))).statusCode).toBe(201);
    expect(await schemaCheck('measures', 2)).toMatchObject({ status: 'fail', result: 'breaks the contract of version 1: stored exactly no more: amount DOUBLE→FLOAT' });
  });

  it('a struct field named with NUL (only a Parquet footer can) is certified as before, its stored type writing the NUL as \\u0000', async () => {
    const written = await parquetOf('nul-field', "SELECT 1 AS id, {'fXld': 1} AS s");
    // The footer names the field in plain bytes: the same length with a NUL is still valid Parquet.
    for (let at = written.indexOf('fXld'); at >= 0; at = written.indexOf('fXld', at + 1)) written[at + 1] = 0;
    const res = await send('nul-field', written);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json<DatasetVersionRecord>().schema.columns[1]).toEqual({ name: 's', type: 'OTHER', storedAs: 'STRUCT("f\\u0000ld" INTEGER)', nullable: false });
    const promoted = await promote('nul-field', 1);
    expect(promoted.statusCode, promoted.body).toBe(200);
    expect(await parquetTypes(promoted.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256)).toEqual(['INTEGER', 'STRUCT("f\u0000ld" INTEGER)']);
  });

  /** Rewrites version 1's stored schema of dataset `name` as `columns` do it, append-only trigger off (as a version stored before looks, or a damaged one). */
  async function rewriteSchema(name: string, columns: string): Promise<void> {
    await suite.t.db.transaction(async (tx) => {
      await tx.query('ALTER TABLE dataset_versions DISABLE TRIGGER USER');
      await tx.query(
        `UPDATE dataset_versions v SET schema = jsonb_build_object('columns', (SELECT jsonb_agg(${columns} ORDER BY n) FROM jsonb_array_elements(v.schema -> 'columns') WITH ORDINALITY AS e(c, n)))
          FROM datasets d WHERE d.id = v.dataset_id AND d.name = $1 AND v.version = 1`,
        [name],
      );
      await tx.query('ALTER TABLE dataset_versions ENABLE TRIGGER USER');
    });
  }

  it('a version stored before stored types were recorded still reads, promotes and verifies; its manifest states no stored types', async () => {
    expect((await send('legacy', await parquetOf('legacy', DECIMALS))).statusCode).toBe(201);
    await rewriteSchema('legacy', `c - 'storedAs'`);
    const legacy = DECIMAL_SCHEMA.map(({ storedAs: _stored, ...c }) => c);
    const read = await get('legacy/versions/1');
    expect(read.statusCode, read.body).toBe(200);
    expect(read.json<DatasetVersionRecord>().schema.columns).toEqual(legacy);
    const promoted = await promote('legacy', 1);
    expect(promoted.statusCode, promoted.body).toBe(200);
    const statement = verifyDatasetManifest(promoted.json<{ manifest: DsseEnvelope }>().manifest, (k) => suite.t.keyring.publicKey(k));
    expect(statement.predicate.schema.columns).toEqual(legacy);
    expect(await parquetTypes(promoted.json<{ version: DatasetVersionRecord }>().version.certified!.parquetSha256)).toEqual(['INTEGER', 'DECIMAL(18,2)', 'DECIMAL(38,10)']);
  });

  it('a version whose recorded stored type the snapshot no longer loads as is not certified (409): the manifest would misstate the Parquet', async () => {
    expect((await send('drifted', await parquetOf('drifted', DECIMALS))).statusCode).toBe(201);
    await rewriteSchema('drifted', `CASE WHEN c ->> 'name' = 'amount' THEN jsonb_set(c, '{storedAs}', '"DOUBLE"') ELSE c END`);
    const refused = await promote('drifted', 1);
    expect(refused.statusCode, refused.body).toBe(409);
    expect(refused.json<{ detail: string }>().detail).toBe(
      'drifted v1 cannot be certified: ingest recorded column "amount" as stored DOUBLE, the snapshot now loads it as DECIMAL(18,2); ingest the file again',
    );
    expect((await get('drifted/versions/1')).json<DatasetVersionRecord>().state).toBe('quarantine');
  });
});
