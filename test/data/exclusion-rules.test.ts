import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exclusionPredicates } from '../../src/data/certified-parquet.js';
import { consentRules, residencyRules, type RuleColumn } from '../../src/data/checks/index.js';
import { literal } from '../../src/data/duck.js';
import type { DatasetVersionRecord } from '../../src/data/types.js';
import { scratchDuckSuite } from './support.js';

const country: RuleColumn = { name: 'country', json: false };
const consent: RuleColumn = { name: 'consent', json: false };

/** residency@4 and consent@5 (rules residency@3 and consent@4): rows excluded by reason; values in no coding the rule knows warn; versions checked under older rules are rebuilt by them. */
describe('exclusion rules', () => {
  const session = scratchDuckSuite('exclusion-rules');
  const declared = { residency: 'EU', residencyColumn: 'country' };

  it('tells outside, missing and unrecognised apart, and warns when values are no country codes', async () => {
    const report = await session.quarantineCsv('countries', ['id,country', '1,DE', '2,DEU', '3,Germany', '4,US', '5,', '6, fr ', '7,EU'], declared);
    expect(report.exclusions.map(({ predicate: _p, ...e }) => e)).toEqual([
      { reason: 'residency_outside', rule: 'residency@3', rowCount: 1, rowNumbers: [4] },
      { reason: 'residency_missing', rule: 'residency@3', rowCount: 1, rowNumbers: [5] },
      { reason: 'residency_unrecognised', rule: 'residency@3', rowCount: 2, rowNumbers: [2, 3] },
    ]);
    const check = report.checks.find((c) => c.name === 'residency')!;
    expect(check).toMatchObject({ version: 4, status: 'warn', blocking: false });
    expect(check.result).toBe('4 rows not shown to reside in EU are excluded (residency_outside: 1, residency_missing: 1, residency_unrecognised: 2); 2 hold no ISO 3166-1 alpha-2 country code: is country coded otherwise?');
  });

  it('codes outside the residency alone pass, naming the reason', async () => {
    const report = await session.quarantineCsv('outside', ['id,country', '1,DE', '2,CH', '3,NO'], declared);
    expect(report.checks.find((c) => c.name === 'residency')).toMatchObject({ status: 'pass', result: '2 rows not shown to reside in EU are excluded (residency_outside: 2)' });
    // Evidence an examiner reads: one row is one row.
    const one = await session.quarantineCsv('outside-one', ['id,country', '1,DE', '2,CH'], declared);
    expect(one.checks.find((c) => c.name === 'residency')).toMatchObject({ status: 'pass', result: '1 row not shown to reside in EU is excluded (residency_outside: 1)' });
    expect(one.checks.find((c) => c.name === 'row_count')).toMatchObject({ result: '2 rows' });
    const oneColumn = await session.quarantineCsv('one-column', ['country', 'DE', 'CH'], declared);
    expect(oneColumn.checks.find((c) => c.name === 'schema')?.result).toBe('1 column inferred; no certified version yet, so no contract to compare with');
  });

  it('version 2 excludes exactly the rows version 1 did, each under one reason', async () => {
    const values = ['DE', 'de', ' AT ', 'EU', 'EEA', 'US', 'CH', 'DEU', 'Germany', '', 'XK', 'ZZ', 'UK', 'EL'];
    await session.duck().run(`CREATE OR REPLACE TABLE t AS SELECT unnest([${values.map((v) => literal(v)).join(', ')}]) AS country UNION ALL SELECT NULL`);
    const v1 = residencyRules({ column: country, residency: 'EU' }, 'residency@1')[0]!.predicate;
    const v2 = residencyRules({ column: country, residency: 'EU' }, 'residency@2').map((r) => `coalesce((${r.predicate}), false)::INT`);
    const rows = await session.duck().rows<{ country: string | null; v1: boolean; reasons: number }>(`SELECT country, coalesce((${v1}), false) AS v1, ${v2.join(' + ')} AS reasons FROM t`);
    for (const r of rows) expect(r.reasons, String(r.country)).toBe(r.v1 ? 1 : 0);
    expect(rows.filter((r) => !r.v1).map((r) => r.country).sort()).toEqual([' AT ', 'DE', 'de', 'EU'].sort());
  });

  it('a version certified under residency@1 is rebuilt with residency@1', () => {
    const version = { datasetName: 'old', version: 1, consentColumn: null, residencyColumn: 'country', residency: 'EU', exclusions: [{ reason: 'residency', rule: 'residency@1', rowCount: 3, rowNumbers: [1, 2, 3] }] };
    const [rebuilt] = exclusionPredicates(version as unknown as DatasetVersionRecord, []);
    expect(rebuilt!.predicate).toBe(`coalesce((${residencyRules({ column: country, residency: 'EU' }, 'residency@1')[0]!.predicate}), false)`);
  });

  it('consent@4 reads yes and no in the languages of EU data, in any case; other values warn', async () => {
    const values = ['Ja', 'NEIN', 'oui', 'Non', 'SÍ', 'não', 'tak', 'nie', 'nee', 'yes', 'vielleicht', ''];
    const report = await session.quarantineCsv('consents', ['id,consent', ...values.map((v, i) => `${i + 1},${v}`)], { consentColumn: 'consent' });
    expect(report.exclusions.map(({ predicate: _p, ...e }) => e)).toEqual([
      { reason: 'consent_withdrawn', rule: 'consent@4', rowCount: 5, rowNumbers: [2, 4, 6, 8, 9] },
      { reason: 'consent_missing', rule: 'consent@4', rowCount: 1, rowNumbers: [12] },
      { reason: 'consent_unrecognised', rule: 'consent@4', rowCount: 1, rowNumbers: [11] },
    ]);
    expect(report.checks.find((c) => c.name === 'consent')).toMatchObject({ version: 5, status: 'warn' });
  });

  it('consent@4 reads the words of German consent records: erteilt and zugestimmt give it, widerrufen and nicht erteilt withdraw it; consent@3 knew neither', async () => {
    const values = ['erteilt', 'Widerrufen', ' nicht erteilt ', 'abgelehnt', 'Zugestimmt', 'einverstanden', 'ja', 'révoqué', 'vielleicht'];
    const report = await session.quarantineCsv('german-consents', ['id,Einwilligung', ...values.map((v, i) => `${i + 1},${v}`)], { consentColumn: 'Einwilligung' });
    expect(report.exclusions.map(({ predicate: _p, ...e }) => e)).toEqual([
      { reason: 'consent_withdrawn', rule: 'consent@4', rowCount: 4, rowNumbers: [2, 3, 4, 8] },
      { reason: 'consent_unrecognised', rule: 'consent@4', rowCount: 1, rowNumbers: [9] },
    ]);
    expect(report.checks.find((c) => c.name === 'consent')).toMatchObject({ version: 5, status: 'warn', evidence: { given: expect.arrayContaining(['erteilt']), withdrawn: expect.arrayContaining(['widerrufen', 'nicht erteilt']) } });
    // A version checked under consent@3 is rebuilt by it: there every one of these words but ja was unrecognised, its row excluded.
    const rows = async (rule: 'consent@3' | 'consent@4') => {
      const predicate = consentRules({ name: 'Einwilligung', json: false }, rule).find((r) => r.reason === 'consent_unrecognised')!.predicate;
      return (await session.duck().rows<{ v: string }>(`SELECT "Einwilligung" AS v FROM (VALUES ${values.map((v) => `(${literal(v)})`).join(', ')}) t("Einwilligung") WHERE ${predicate}`)).map((r) => r.v);
    };
    expect(await rows('consent@3')).toEqual(values.filter((v) => v !== 'ja'));
    expect(await rows('consent@4')).toEqual(['vielleicht']);
    const version = { datasetName: 'old', version: 1, consentColumn: 'Einwilligung', residencyColumn: null, residency: null, exclusions: [{ reason: 'consent_unrecognised', rule: 'consent@3', rowCount: 8, rowNumbers: [1] }] };
    const [rebuilt] = exclusionPredicates(version as unknown as DatasetVersionRecord, []);
    expect(rebuilt!.predicate).not.toContain("'erteilt'");
  });

  it('a version certified under consent@1 is rebuilt with consent@1, which did not know "ja"', () => {
    const version = { datasetName: 'old', version: 1, consentColumn: 'consent', residencyColumn: null, residency: null, exclusions: [{ reason: 'consent_unrecognised', rule: 'consent@1', rowCount: 1, rowNumbers: [1] }] };
    const [rebuilt] = exclusionPredicates(version as unknown as DatasetVersionRecord, []);
    const v1 = consentRules(consent, 'consent@1').find((r) => r.reason === 'consent_unrecognised')!.predicate;
    expect(rebuilt!.predicate).toBe(`coalesce((${v1}), false)`);
    expect(v1).not.toContain("'ja'");
    expect(consentRules(consent).find((r) => r.reason === 'consent_unrecognised')!.predicate).toContain("'ja'");
  });

  it('consent@3 and residency@3 read a JSON column\'s strings without their quotes; a version checked under @2 is rebuilt with @2, which kept them', async () => {
    const lines = ['{"consent":{"a":1},"country":["DE"]}', '{"consent":[1],"country":{"c":"DE"}}', '{"consent":"yes","country":"de"}', '{"consent":" Nein ","country":"US"}', '{"consent":true,"country":""}'];
    const path = join(session.dir(), 'mixed.jsonl');
    writeFileSync(path, `${lines.join('\n')}\n`);
    await session.duck().run(`CREATE OR REPLACE TABLE j AS SELECT * FROM read_json(${literal(path)}, format = 'newline_delimited', records = true, sample_size = -1)`);
    const types = await session.duck().rows<{ column_type: string }>('DESCRIBE j');
    expect(types.map((t) => t.column_type)).toEqual(['JSON', 'JSON']);
    /** The rows (1-based) each rule of `rules` takes from table j. */
    const taken = async (rules: Array<{ reason: string; predicate: string }>): Promise<Record<string, number[]>> => {
      const found: Record<string, number[]> = {};
      for (const r of rules) {
        const rows = await session.duck().rows<{ n: number | bigint }>(`SELECT rowid + 1 AS n FROM j WHERE coalesce((${r.predicate}), false) ORDER BY n`);
        if (rows.length > 0) found[r.reason] = rows.map((x) => Number(x.n));
      }
      return found;
    };
    const json = (name: string): RuleColumn => ({ name, json: true });
    expect(await taken(consentRules(json('consent')))).toEqual({ consent_withdrawn: [4], consent_unrecognised: [1, 2] });
    expect(await taken(residencyRules({ column: json('country'), residency: 'EU' }))).toEqual({ residency_outside: [4], residency_missing: [5], residency_unrecognised: [1, 2] });
    // Under @2 every JSON string kept its quotes: "yes" and "de" were unrecognised.
    expect(await taken(consentRules(json('consent'), 'consent@2'))).toEqual({ consent_unrecognised: [1, 2, 3, 4] });
    expect(await taken(residencyRules({ column: json('country'), residency: 'EU' }, 'residency@2'))).toEqual({ residency_unrecognised: [1, 2, 3, 4, 5] });
    const version = {
      datasetName: 'old',
      version: 1,
      consentColumn: 'consent',
      residencyColumn: 'country',
      residency: 'EU',
      exclusions: [
        { reason: 'consent_unrecognised', rule: 'consent@2', rowCount: 4, rowNumbers: [1, 2, 3, 4] },
        { reason: 'residency_unrecognised', rule: 'residency@2', rowCount: 5, rowNumbers: [1, 2, 3, 4, 5] },
      ],
    };
    const rebuilt = exclusionPredicates(version as unknown as DatasetVersionRecord, [
      { name: 'consent', duckType: 'JSON' },
      { name: 'country', duckType: 'JSON' },
    ]);
    expect(rebuilt.map((r) => r.predicate)).toEqual([
      `coalesce((${consentRules(json('consent'), 'consent@2').find((r) => r.reason === 'consent_unrecognised')!.predicate}), false)`,
      `coalesce((${residencyRules({ column: json('country'), residency: 'EU' }, 'residency@2').find((r) => r.reason === 'residency_unrecognised')!.predicate}), false)`,
    ]);
    expect(rebuilt[0]!.predicate).toContain('CAST("consent" AS VARCHAR)');
    expect(rebuilt[0]!.predicate).not.toContain('json_extract_string');
  });
});
