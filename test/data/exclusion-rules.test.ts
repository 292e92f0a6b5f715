import { describe, expect, it } from 'vitest';
import { exclusionPredicates } from '../../src/data/certified-parquet.js';
import { consentRules, residencyRules } from '../../src/data/checks/index.js';
import { literal } from '../../src/data/duck.js';
import type { DatasetVersionRecord } from '../../src/data/types.js';
import { scratchDuckSuite } from './support.js';

/** residency@4 and consent@4 (rules residency@2 and consent@2): rows excluded by reason; values in no coding the rule knows warn; versions checked under @1 are rebuilt by @1. */
describe('exclusion rules', () => {
  const session = scratchDuckSuite('exclusion-rules');
  const declared = { residency: 'EU', residencyColumn: 'country' };

  it('tells outside, missing and unrecognised apart, and warns when values are no country codes', async () => {
    const report = await session.quarantineCsv('countries', ['id,country', '1,DE', '2,DEU', '3,Germany', '4,US', '5,', '6, fr ', '7,EU'], declared);
    expect(report.exclusions.map(({ predicate: _p, ...e }) => e)).toEqual([
      { reason: 'residency_outside', rule: 'residency@2', rowCount: 1, rowNumbers: [4] },
      { reason: 'residency_missing', rule: 'residency@2', rowCount: 1, rowNumbers: [5] },
      { reason: 'residency_unrecognised', rule: 'residency@2', rowCount: 2, rowNumbers: [2, 3] },
    ]);
    const check = report.checks.find((c) => c.name === 'residency')!;
    expect(check).toMatchObject({ version: 4, status: 'warn', blocking: false });
    expect(check.result).toBe('4 rows not shown to reside in EU are excluded (residency_outside: 1, residency_missing: 1, residency_unrecognised: 2); 2 hold no ISO 3166-1 alpha-2 country code: is country coded otherwise?');
  });

  it('codes outside the residency alone pass, naming the reason', async () => {
    const report = await session.quarantineCsv('outside', ['id,country', '1,DE', '2,CH', '3,NO'], declared);
    expect(report.checks.find((c) => c.name === 'residency')).toMatchObject({ status: 'pass', result: '2 rows not shown to reside in EU are excluded (residency_outside: 2)' });
  });

  it('version 2 excludes exactly the rows version 1 did, each under one reason', async () => {
    const values = ['DE', 'de', ' AT ', 'EU', 'EEA', 'US', 'CH', 'DEU', 'Germany', '', 'XK', 'ZZ', 'UK', 'EL'];
    await session.duck().run(`CREATE OR REPLACE TABLE t AS SELECT unnest([${values.map((v) => literal(v)).join(', ')}]) AS country UNION ALL SELECT NULL`);
    const v1 = residencyRules({ column: 'country', residency: 'EU' }, 'residency@1')[0]!.predicate;
    const v2 = residencyRules({ column: 'country', residency: 'EU' }, 'residency@2').map((r) => `coalesce((${r.predicate}), false)::INT`);
    const rows = await session.duck().rows<{ country: string | null; v1: boolean; reasons: number }>(`SELECT country, coalesce((${v1}), false) AS v1, ${v2.join(' + ')} AS reasons FROM t`);
    for (const r of rows) expect(r.reasons, String(r.country)).toBe(r.v1 ? 1 : 0);
    expect(rows.filter((r) => !r.v1).map((r) => r.country).sort()).toEqual([' AT ', 'DE', 'de', 'EU'].sort());
  });

  it('a version certified under residency@1 is rebuilt with residency@1', () => {
    const version = { datasetName: 'old', version: 1, consentColumn: null, residencyColumn: 'country', residency: 'EU', exclusions: [{ reason: 'residency', rule: 'residency@1', rowCount: 3, rowNumbers: [1, 2, 3] }] };
    const [rebuilt] = exclusionPredicates(version as unknown as DatasetVersionRecord);
    expect(rebuilt!.predicate).toBe(`coalesce((${residencyRules({ column: 'country', residency: 'EU' }, 'residency@1')[0]!.predicate}), false)`);
  });

  it('consent@2 reads yes and no in the languages of EU data, in any case; other values warn', async () => {
    const values = ['Ja', 'NEIN', 'oui', 'Non', 'SÍ', 'não', 'tak', 'nie', 'nee', 'yes', 'vielleicht', ''];
    const report = await session.quarantineCsv('consents', ['id,consent', ...values.map((v, i) => `${i + 1},${v}`)], { consentColumn: 'consent' });
    expect(report.exclusions.map(({ predicate: _p, ...e }) => e)).toEqual([
      { reason: 'consent_withdrawn', rule: 'consent@2', rowCount: 5, rowNumbers: [2, 4, 6, 8, 9] },
      { reason: 'consent_missing', rule: 'consent@2', rowCount: 1, rowNumbers: [12] },
      { reason: 'consent_unrecognised', rule: 'consent@2', rowCount: 1, rowNumbers: [11] },
    ]);
    expect(report.checks.find((c) => c.name === 'consent')).toMatchObject({ version: 4, status: 'warn' });
  });

  it('a version certified under consent@1 is rebuilt with consent@1, which did not know "ja"', () => {
    const version = { datasetName: 'old', version: 1, consentColumn: 'consent', residencyColumn: null, residency: null, exclusions: [{ reason: 'consent_unrecognised', rule: 'consent@1', rowCount: 1, rowNumbers: [1] }] };
    const [rebuilt] = exclusionPredicates(version as unknown as DatasetVersionRecord);
    const v1 = consentRules('consent', 'consent@1').find((r) => r.reason === 'consent_unrecognised')!.predicate;
    expect(rebuilt!.predicate).toBe(`coalesce((${v1}), false)`);
    expect(v1).not.toContain("'ja'");
    expect(consentRules('consent').find((r) => r.reason === 'consent_unrecognised')!.predicate).toContain("'ja'");
  });
});
