import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAuditEntries } from '../../src/audit/index.js';
import { hashCanonical, sha256Hex, type DsseEnvelope } from '../../src/core/index.js';
import { derivationJobId, derivationRunId, rawSnapshotNodeId, verifyDatasetManifest, type DatasetVersionRecord } from '../../src/data/index.js';
import { changeEntryCount, createPrincipalWithToken, createTestApp, decisionsOf, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';
import { GERMAN_CREDIT, leftovers } from './support.js';

/** The feature table the tests derive: a few numeric columns of German credit and a ratio. */
function creditFeatures(): string {
  const [header, ...rows] = readFileSync(GERMAN_CREDIT, 'utf8').trimEnd().split('\n');
  const col = (name: string) => header!.split(',').indexOf(name);
  const [duration, amount, age] = [col('duration_months'), col('credit_amount'), col('age_years')];
  const lines = rows.map((r) => {
    const f = r.split(',');
    return [f[duration], f[amount], f[age], (Number(f[amount]) / Number(f[duration])).toFixed(2)].join(',');
  });
  return ['duration_months,credit_amount,age_years,amount_per_month', ...lines].join('\n') + '\n';
}

/** The "transformation code" the tests declare: its bytes only matter as a hash. */
const CODE = 'SELECT duration_months, credit_amount, age_years, credit_amount / duration_months AS amount_per_month FROM credit\n';
const CODE_SHA256 = sha256Hex(CODE);
// Sibling objects share keys (steps), as real parameters do: only a key named twice in one object is refused.
const PARAMETERS = { ratio: 'credit_amount/duration_months', decimals: 2, columns: ['duration_months', 'credit_amount', 'age_years'], steps: [{ op: 'ratio', name: 'r' }, { op: 'round', name: 'r2' }] };

/** A small PII table the PII-clearance tests derive from: e-mail addresses are personal data, nothing is a card number. */
const CONTACTS = 'customer_id,email,score\nC1,anna@example.com,0.5\nC2,ben@example.org,0.7\nC3,cleo@example.net,0.2\n';

type Principal = { id: string; token: string };
type Problem = { status: number; errors?: Array<{ field: string; detail: string }>; detail: string };
type Graph = { nodes: Array<{ id: string; type: string }>; edges: Array<{ from: string; to: string; type: string }> };

describe.each(eachBackend().map((b) => [b.name, b] as const))('derived datasets [%s]', (_name, backend) => {
  let t: TestApp;
  let base: string;
  let scientist: Principal;
  let steward: Principal;
  let uncleared: Principal;
  let credit: DatasetVersionRecord;
  let contacts: DatasetVersionRecord;
  let derived: DatasetVersionRecord;

  const auth = (who: Principal) => ({ authorization: `Bearer ${who.token}` });
  /** Uploads `body` over HTTP as a new version of `name`; `query` values that are arrays repeat the parameter. */
  const ingest = (who: Principal, name: string, body: string, query: Record<string, string | string[]>) => {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries({ sourceSystem: 'feature-store', ...query })) for (const x of [v].flat()) q.append(k, x);
    return fetch(`${base}/api/v1/datasets/${name}/versions?${q.toString()}`, { method: 'POST', headers: { ...auth(who), 'content-type': 'text/csv' }, body });
  };
  const promote = async (who: Principal, name: string, version: number) => {
    const res = await fetch(`${base}/api/v1/datasets/${name}/versions/${version}/promote`, { method: 'POST', headers: auth(who) });
    const body = (await res.json()) as { version: DatasetVersionRecord; manifest: DsseEnvelope };
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body;
  };
  const get = async <T>(who: Principal, path: string): Promise<T> => {
    const res = await fetch(`${base}${path}`, { headers: auth(who) });
    expect(res.status, path).toBe(200);
    return (await res.json()) as T;
  };
  const derivedQuery = (over: Record<string, string | string[]> = {}) => ({
    classification: 'confidential',
    owner: 'steward',
    derivedFrom: 'german-credit@1',
    codeSha256: CODE_SHA256,
    transform: 'credit_features.sql',
    codeUri: 'git+https://git.example/credit/features@4f2c1e0',
    parameters: JSON.stringify(PARAMETERS),
    ...over,
  });
  const snapshot = async () => ({ ...(await leftovers(t)), changes: await changeEntryCount(t.db), derivations: (await t.db.query('SELECT 1 FROM dataset_derivations')).rowCount });

  beforeAll(async () => {
    t = await createTestApp(backend);
    scientist = await createPrincipalWithToken(t.db, { name: 'scientist', roles: ['data-scientist'] });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    uncleared = await createPrincipalWithToken(t.db, { name: 'uncleared', roles: ['data-scientist'] });
    for (const p of [scientist, steward]) await t.db.query(`UPDATE principals SET attributes = '{"clearance": ["PII", "PHI"]}' WHERE id = $1`, [p.id]);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;

    const c = await ingest(scientist, 'german-credit', readFileSync(GERMAN_CREDIT, 'utf8'), { classification: 'confidential', owner: 'steward', sourceSystem: 'loan-origination' });
    expect(c.status, await c.clone().text()).toBe(201);
    credit = (await promote(steward, 'german-credit', 1)).version;
    const p = await ingest(scientist, 'contacts', CONTACTS, { classification: 'PII', owner: 'steward' });
    expect(p.status, await p.clone().text()).toBe(201);
    contacts = (await promote(steward, 'contacts', 1)).version;
    // A version still in quarantine: no feature table may be built from it.
    const q = await ingest(scientist, 'credit-staging', readFileSync(GERMAN_CREDIT, 'utf8'), { classification: 'confidential', owner: 'steward' });
    expect(q.status).toBe(201);
  });
  afterAll(async () => t?.close());

  it('derives a feature table from certified German credit: the version records its inputs, code and parameters, atomically with lineage and audit', async () => {
    const res = await ingest(scientist, 'credit-features', creditFeatures(), derivedQuery());
    derived = (await res.json()) as DatasetVersionRecord;
    expect(res.status, JSON.stringify(derived)).toBe(201);
    expect(derived).toMatchObject({ datasetName: 'credit-features', version: 1, state: 'quarantine', rowCount: 1000, classification: 'confidential' });
    expect(derived.schema.columns.map((c) => c.name)).toEqual(['duration_months', 'credit_amount', 'age_years', 'amount_per_month']);
    expect(derived.derivation).toEqual({
      inputs: [
        { dataset: 'german-credit', version: 1, versionId: credit.id, classification: 'confidential', parquetSha256: credit.certified!.parquetSha256, manifestSha256: credit.certified!.manifestSha256 },
      ],
      code: { sha256: CODE_SHA256, uri: 'git+https://git.example/credit/features@4f2c1e0', name: 'credit_features.sql' },
      parameters: PARAMETERS,
      parametersSha256: hashCanonical(PARAMETERS),
    });
    // Read back as the API shows it; a raw ingest has none.
    expect((await get<DatasetVersionRecord>(steward, '/api/v1/datasets/credit-features/versions/1')).derivation).toEqual(derived.derivation);
    expect((await get<DatasetVersionRecord>(steward, '/api/v1/datasets/german-credit/versions/1')).derivation).toBeNull();

    const [entry] = await listAuditEntries(t.db, { action: 'dataset.derive', resourceId: derived.id });
    expect(entry).toMatchObject({ actor: { principalId: scientist.id }, outcome: 'succeeded' });
    expect(entry?.reason).toContain(`code sha256:${CODE_SHA256}`);
    expect(entry?.reason).toContain(`german-credit@1 (parquet sha256:${credit.certified!.parquetSha256})`);
    expect(entry?.reason).toContain(`inputs sha256:${hashCanonical([{ dataset: 'german-credit', version: 1, parquetSha256: credit.certified!.parquetSha256 }])}`);
    // Reading the input was decided and recorded as getDatasetVersion.
    expect((await decisionsOf(t.db, scientist.id, 'allowed')).some((d) => d.resource.id === 'getDatasetVersion')).toBe(true);

    // Lineage: input → run → output, job → run, recorded in the ingest's transaction.
    const run = derivationRunId(derived.id);
    const job = derivationJobId(derived.datasetId);
    const graph = await get<Graph>(scientist, `/api/v1/lineage/graph?node=${derived.id}&direction=up&depth=5`);
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        { from: credit.id, to: run, type: 'input' },
        { from: run, to: derived.id, type: 'output' },
        { from: job, to: run, type: 'run_of' },
        { from: rawSnapshotNodeId(credit), to: credit.id, type: 'promoted' },
      ]),
    );
    expect(graph.nodes).toEqual(expect.arrayContaining([expect.objectContaining({ id: run, type: 'run' }), expect.objectContaining({ id: job, type: 'job' })]));
  });

  it('promotion signs the derivation into the manifest, and the manifest verifies', async () => {
    const { version, manifest } = await promote(steward, 'credit-features', 1);
    expect(version.derivation).toEqual(derived.derivation);
    const statement = verifyDatasetManifest(manifest, (keyid) => t.keyring.publicKey(keyid));
    expect(statement.predicate.derivation).toEqual(derived.derivation);
    expect(statement.predicate.dataset).toMatchObject({ name: 'credit-features', version: 1 });
    // A raw version's manifest says nothing of a derivation.
    const raw = verifyDatasetManifest(await get<DsseEnvelope>(steward, '/api/v1/datasets/german-credit/versions/1/manifest'), (keyid) => t.keyring.publicKey(keyid));
    expect(raw.predicate).not.toHaveProperty('derivation');
    // After promotion the graph holds both the raw snapshot and the derivation run upstream of it.
    const graph = await get<Graph>(steward, `/api/v1/lineage/graph?node=${derived.id}&direction=up&depth=5`);
    expect(graph.edges).toEqual(
      expect.arrayContaining([
        { from: rawSnapshotNodeId(version), to: derived.id, type: 'promoted' },
        { from: derivationRunId(derived.id), to: derived.id, type: 'output' },
      ]),
    );
  });

  const refusals: Array<[what: string, who: 'scientist' | 'uncleared', name: string, query: Record<string, string | string[]>, status: number, field: string]> = [
    ['an input in quarantine', 'scientist', 'features-a', { derivedFrom: 'credit-staging@1' }, 409, 'query.derivedFrom'],
    ['an unknown dataset', 'scientist', 'features-a', { derivedFrom: 'nope@1' }, 400, 'query.derivedFrom'],
    ['an unknown version', 'scientist', 'features-a', { derivedFrom: ['german-credit@1', 'german-credit@7'] }, 400, 'query.derivedFrom'],
    ['a malformed input', 'scientist', 'features-a', { derivedFrom: 'german-credit' }, 400, 'query.derivedFrom'],
    ['a version past the column (int4)', 'scientist', 'features-a', { derivedFrom: 'german-credit@2147483648' }, 400, 'query.derivedFrom'],
    ['the largest version the column holds, which does not exist', 'scientist', 'features-a', { derivedFrom: 'german-credit@2147483647' }, 400, 'query.derivedFrom'],
    ['the same input twice', 'scientist', 'features-a', { derivedFrom: 'german-credit@1,german-credit@1' }, 400, 'query.derivedFrom'],
    ['the dataset itself', 'scientist', 'credit-features', { derivedFrom: 'credit-features@1' }, 400, 'query.derivedFrom'],
    ['a weaker classification than a PII input', 'scientist', 'features-b', { derivedFrom: 'contacts@1', classification: 'internal' }, 409, 'query.classification'],
    ['an existing dataset weaker than its input', 'scientist', 'credit-features', { derivedFrom: 'contacts@1' }, 409, 'query.classification'],
    ['another regulated class than the input', 'scientist', 'features-b', { derivedFrom: 'contacts@1', classification: 'PHI' }, 409, 'query.classification'],
    ['a code URI with a control character', 'scientist', 'features-a', { codeUri: 'git+https://git.example/x\u0001y' }, 400, 'query.codeUri'],
    ['a malformed code hash', 'scientist', 'features-a', { codeSha256: 'abc123' }, 400, 'query.codeSha256'],
    ['no code hash', 'scientist', 'features-a', { codeSha256: [] }, 400, 'query.codeSha256'],
    ['parameters that are not JSON', 'scientist', 'features-a', { parameters: '{window: 90' }, 400, 'query.parameters'],
    ['parameters that are no object', 'scientist', 'features-a', { parameters: '[1, 2]' }, 400, 'query.parameters'],
    ['parameters over 16 KiB', 'scientist', 'features-a', { parameters: JSON.stringify({ x: 'y'.repeat(17_000) }) }, 400, 'query.parameters'],
    ['parameters the database cannot store', 'scientist', 'features-a', { parameters: '{"x": "a\\u0000b"}' }, 400, 'query.parameters'],
    ['parameters naming a key twice (JSON.parse would keep the last silently)', 'scientist', 'features-a', { parameters: '{"window": 30, "window": 90}' }, 400, 'query.parameters'],
    ['a number no double holds (JSON.parse would record 12345678901234567000)', 'scientist', 'features-a', { parameters: '{"seed": 12345678901234567891}' }, 400, 'query.parameters'],
    ['a nested number with more precision than a double', 'scientist', 'features-a', { parameters: '{"steps": [{"alpha": 3.141592653589793238462643383279}]}' }, 400, 'query.parameters'],
    ['a nested object naming a key twice, however escaped', 'scientist', 'features-a', { parameters: '{"a": [{"k\\"x": 1, "b": {"c": 1}}, {"k\\u0022x": 2, "k\\"x": 3}]}' }, 400, 'query.parameters'],
    ['a transform name with a right-to-left override', 'scientist', 'features-a', { transform: 'evil\u202Eyp.exe' }, 400, 'query.transform'],
    ['derivation parameters without inputs', 'scientist', 'features-a', { derivedFrom: [] }, 400, 'query.codeSha256'],
    ['an input the caller is not cleared to read', 'uncleared', 'features-c', { derivedFrom: 'contacts@1' }, 403, 'query.derivedFrom'],
  ];

  it.each(refusals.map(([what, who, name, query, status, field]) => ({ what, who, name, query, status, field })))(
    'refuses $what with $status naming $field, and leaves nothing behind',
    async ({ who, name, query: over, status, field }) => {
    const before = await snapshot();
    const res = await ingest(who === 'uncleared' ? uncleared : scientist, name, creditFeatures(), derivedQuery(over));
    const problem = (await res.json()) as Problem;
    expect(res.status, JSON.stringify(problem)).toBe(status);
    expect(problem.errors?.map((e) => e.field)).toContain(field);
    if (status === 403) expect(problem.detail).toContain('data.clearance-for-sensitive');
    expect(await snapshot()).toEqual(before);
    },
  );

  // A client percent-encoding in Latin-1 (or any bytes that are not UTF-8) would have its text
  // recorded, and signed into the manifest, as the raw `%E9` the server's query parser kept.
  it.each([
    ['transform', 't%E9st.sql'],
    ['sourceSystem', 'ab%FFcd'],
    ['codeUri', 'git%2Bhttps%3A%2F%2Fgit.example%2F%E9'],
    ['parameters', '%7B%22a%22%3A%22%FF%22%7D'],
    ['purpose', 'a%20stray%20%25%20and%20100%'],
  ])('refuses %s percent-encoded in other than UTF-8 with 400 naming it, and leaves nothing behind', async (key, raw) => {
    const before = await snapshot();
    const q = new URLSearchParams({ sourceSystem: 'feature-store', ...derivedQuery() });
    q.delete(key);
    // A dataset of its own per case: one ingested despite the refusal would not change the next.
    const res = await fetch(`${base}/api/v1/datasets/features-enc-${key.toLowerCase()}/versions?${q.toString()}&${key}=${raw}`, {
      method: 'POST',
      headers: { ...auth(scientist), 'content-type': 'text/csv' },
      body: creditFeatures(),
    });
    const problem = (await res.json()) as Problem;
    expect(res.status, JSON.stringify(problem)).toBe(400);
    // Parameters were refused before too, but as "not valid JSON (Unexpected token '%')", which misleads.
    expect(problem.errors).toEqual([{ field: `query.${key}`, detail: expect.stringContaining('not UTF-8') }]);
    expect(await snapshot()).toEqual(before);
  });

  it('a denied input is named, among several, in query.derivedFrom', async () => {
    const before = await snapshot();
    const res = await ingest(uncleared, 'features-c', creditFeatures(), derivedQuery({ derivedFrom: ['german-credit@1', 'contacts@1'] }));
    const problem = (await res.json()) as Problem;
    expect(res.status, JSON.stringify(problem)).toBe(403);
    expect(problem.detail).toMatch(/^the input contacts@1 may not be read: getDatasetVersion is forbidden: data\.clearance-for-sensitive/);
    expect(problem.errors).toEqual([{ field: 'query.derivedFrom', detail: 'contacts@1: you may not read this input (data.clearance-for-sensitive)' }]);
    expect(await snapshot()).toEqual(before);
  });

  it('a PII input feeds a PII feature table, for those cleared to read it', async () => {
    const res = await ingest(scientist, 'contact-scores', 'score_bucket,n\nlow,1\nhigh,2\n', derivedQuery({ derivedFrom: 'contacts@1', classification: 'PII' }));
    const v = (await res.json()) as DatasetVersionRecord;
    expect(res.status, JSON.stringify(v)).toBe(201);
    expect(v.derivation?.inputs).toEqual([expect.objectContaining({ dataset: 'contacts', versionId: contacts.id, classification: 'PII' })]);
  });

  it('the database refuses a quarantined input, a derivation of the dataset itself, and any edit', async () => {
    const staging = (await t.db.query<{ id: string }>(`SELECT v.id FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE d.name = 'credit-staging'`)).rows[0]!.id;
    await expect(t.db.query('INSERT INTO dataset_derivation_inputs (version_id, input_version_id, position) VALUES ($1, $2, 5)', [derived.id, staging])).rejects.toThrow(/certified/);
    await expect(t.db.query(`UPDATE dataset_derivations SET parameters = '{}' WHERE version_id = $1`, [derived.id])).rejects.toThrow(/never change/);
    await expect(t.db.query('DELETE FROM dataset_derivation_inputs WHERE version_id = $1', [derived.id])).rejects.toThrow(/never change/);
  });

  it('a derivation from inputs too many to name in an audit entry binds them all by digest and lists whole names as far as they fit', async () => {
    // Ten certified inputs named with 120 characters: their names and digests need ~2,150 characters.
    const names = Array.from({ length: 10 }, (_, i) => `wide-input-${i}-`.padEnd(120, 'x'));
    for (const name of names) {
      expect((await ingest(scientist, name, 'k,v\n1,a\n2,b\n', { classification: 'internal', owner: 'steward' })).status).toBe(201);
      await promote(steward, name, 1);
    }
    const res = await ingest(scientist, 'wide-features', 'k,n\n1,2\n', derivedQuery({ derivedFrom: names.map((n) => `${n}@1`), classification: 'internal' }));
    const v = (await res.json()) as DatasetVersionRecord;
    expect(res.status, JSON.stringify(v)).toBe(201);
    const [entry] = await listAuditEntries(t.db, { action: 'dataset.derive', resourceId: v.id });
    const reason = entry!.reason!;
    expect(reason.length).toBeLessThanOrEqual(2000);
    // The digest an examiner recomputes from the version's derivation covers every input.
    const digest = hashCanonical(v.derivation!.inputs.map((i) => ({ dataset: i.dataset, version: i.version, parquetSha256: i.parquetSha256 })));
    expect(reason).toContain(`inputs sha256:${digest}`);
    const listed = v.derivation!.inputs.filter((i) => reason.includes(`${i.dataset}@1 (parquet sha256:${i.parquetSha256})`)).length;
    expect(listed).toBeGreaterThan(0);
    expect(listed).toBeLessThan(10);
    // The list ends at a whole input and says how many it left out.
    expect(reason).toMatch(new RegExp(`[0-9a-f]{64}\\) … and ${10 - listed} more$`));
  });
});
