import { describe, expect, it } from 'vitest';
import type { DsseEnvelope } from '../../src/core/index.js';
import { verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { eachBackend } from '../support/databases.js';
import { parquetFixtures, upload, withIngesterAndPromoter } from './support.js';

type Check = { name: string; status: string; result: string; evidence: Record<string, unknown>; override: { by: string; reason: string } | null };

/**
 * A monthly extract evolving against its contract, as a data steward and an examiner read the
 * outcome: the one-line results and the version record must say what changed.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a monthly extract against its contract [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
  const { parquetOf } = parquetFixtures('contract-evolution');
  const send = async (name: string, body: string | Buffer): Promise<DatasetVersionRecord> => {
    const contentType = typeof body === 'string' ? 'text/csv' : 'application/vnd.apache.parquet';
    const res = await upload(suite.t, { name, body, contentType, token: suite.ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(res.statusCode, res.body).toBe(201);
    return res.json<DatasetVersionRecord>();
  };
  const as = (token: string) => ({ authorization: `Bearer ${token}` });
  const checksOf = async (name: string, version: number): Promise<Check[]> => {
    const res = await suite.t.app.inject({ method: 'GET', url: `/api/v1/datasets/${name}/versions/${version}/checks`, headers: as(suite.ingester.token) });
    expect(res.statusCode, res.body).toBe(200);
    return res.json<{ checks: Check[] }>().checks;
  };

  it('a contract column whose name changed case only is named missing with the spelling the file has, beside the new columns', async () => {
    await send('ledger', 'id,Amount,branch,legacy\n1,10.50,B1,x\n2,20.00,B2,y\n');
    await suite.certify('ledger');
    await send('ledger', 'id,amount,branch,region\n1,10.50,B1,N\n2,20.00,B2,S\n');
    const schema = (await checksOf('ledger', 2)).find((c) => c.name === 'schema')!;
    // Before, the result said "missing Amount, legacy" alone: read as a dropped amount column, though the file has it as amount.
    expect(schema).toMatchObject({
      status: 'fail',
      result: 'breaks the contract of version 1: missing Amount (the file has amount: its name changed case), legacy; new columns: amount, region',
      evidence: { missing: ['Amount', 'legacy'], added: ['amount', 'region'], caseChanged: [{ column: 'Amount', now: 'amount' }] },
    });
  });

  it('a version certified past a failing check under an exception says so in the version record, in quarantine and certified, and in the dataset\'s list', async () => {
    const amounts = (type: string) => `SELECT * FROM (VALUES (1::INTEGER, 10.50::${type}), (2, 20.00::${type})) t(id, amount)`;
    await send('gl', await parquetOf('gl-1', amounts('DECIMAL(18,2)')));
    await suite.certify('gl');
    const month2 = await send('gl', await parquetOf('gl-2', amounts('DOUBLE')));
    expect(month2).toMatchObject({ blockingFailures: ['schema'], waived: [] });
    const reason = 'vendor moved amounts to DOUBLE; reconciled to the general ledger to the cent';
    const waived = await suite.t.app.inject({ method: 'POST', url: '/api/v1/datasets/gl/versions/2/checks/schema/override', headers: as(suite.promoter.token), payload: { reason } });
    expect(waived.statusCode, waived.body).toBe(201);
    const read = async (path: string) => {
      const res = await suite.t.app.inject({ method: 'GET', url: `/api/v1/datasets/gl/${path}`, headers: as(suite.ingester.token) });
      expect(res.statusCode, res.body).toBe(200);
      return res.json<DatasetVersionRecord & { versions: DatasetVersionRecord[] }>();
    };
    // Before, the record said only blockingFailures: [], as for a version that passed every check.
    expect(await read('versions/2')).toMatchObject({ state: 'quarantine', blockingFailures: [], waived: ['schema'] });
    const promoted = await suite.t.app.inject({ method: 'POST', url: '/api/v1/datasets/gl/versions/2/promote', headers: as(suite.promoter.token), payload: {} });
    expect(promoted.statusCode, promoted.body).toBe(200);
    const { version, manifest } = promoted.json<{ version: DatasetVersionRecord; manifest: DsseEnvelope }>();
    expect(version).toMatchObject({ state: 'certified', blockingFailures: [], waived: ['schema'] });
    expect((await read('versions')).versions.map((v) => [v.version, v.state, v.waived])).toEqual([
      [1, 'certified', []],
      [2, 'certified', ['schema']],
    ]);
    // The manifest records the check as failing and the exception with who and why.
    const predicate = verifyDatasetManifest(manifest, (k) => suite.t.keyring.publicKey(k)).predicate;
    expect(predicate.checks.find((c) => c.check === 'schema@4')).toMatchObject({ status: 'fail', result: 'breaks the contract of version 1: stored exactly no more: amount DECIMAL(18,2)→DOUBLE' });
    expect(predicate.overrides).toEqual([{ check: 'schema@4', by: suite.promoter.id, at: expect.any(String), reason }]);
  });
});
