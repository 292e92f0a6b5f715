import { describe, expect, it } from 'vitest';
import type { DatasetVersionRecord } from '../../src/data/index.js';
import { eachBackend } from '../support/databases.js';
import { upload, withIngesterAndPromoter } from './support.js';

type Check = { name: string; status: string; result: string; evidence: Record<string, unknown>; override: { by: string; reason: string } | null };

/**
 * A monthly extract evolving against its contract, as a data steward and an examiner read the
 * outcome: the one-line results and the version record must say what changed.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a monthly extract against its contract [%s]', (_name, backend) => {
  const suite = withIngesterAndPromoter(backend);
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

});
