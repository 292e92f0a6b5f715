import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkOpenLineageEvent, OPENLINEAGE_SCHEMA_DIR, openLineageSchemas } from '../../src/lineage/index.js';
import { exampleFullEvent, FACET_PATH, facetExamples, positionOf, propertyPaths, runEvent, withFacet, without } from './fixtures.js';

/**
 * The official OpenLineage schemas as bundled (src/lineage/openlineage/), and the event check
 * built on them: the project's own examples pass, and every required field removed is
 * refused with its path.
 */

const schemas = openLineageSchemas();
const fields = (r: ReturnType<typeof checkOpenLineageEvent>): string[] => (r.ok ? [] : r.issues.map((i) => i.field));

describe('bundled schemas', () => {
  it('registers the core schema and every facet file under its $id, and places every facet', () => {
    const files = readdirSync(join(OPENLINEAGE_SCHEMA_DIR, 'facets')).filter((f) => f.endsWith('.json'));
    expect(schemas.ids).toHaveLength(files.length + 1);
    expect(schemas.ids[0]).toBe('https://openlineage.io/spec/2-0-2/OpenLineage.json');
    expect(schemas.ids.every((id) => id.startsWith('https://openlineage.io/spec/'))).toBe(true);
    const placed = new Set(Object.values(schemas.facets).flatMap((m) => [...m.values()].map((f) => f.file)));
    expect([...placed].sort()).toEqual(files.sort());
  });

  it('places facets where the specification puts them, including the shared names', () => {
    expect(schemas.facets.run.get('parent')?.file).toBe('ParentRunFacet.json');
    expect(schemas.facets.job.has('parent')).toBe(false);
    expect(schemas.facets.dataset.get('columnLineage')?.file).toBe('ColumnLineageDatasetFacet.json');
    expect(schemas.facets.dataset.get('tags')?.file).toBe('TagsDatasetFacet.json');
    expect(schemas.facets.job.get('tags')?.file).toBe('TagsJobFacet.json');
    expect(schemas.facets.run.get('tags')?.file).toBe('TagsRunFacet.json');
    expect(schemas.facets.input.get('dataQualityMetrics')?.file).toBe('DataQualityMetricsInputDatasetFacet.json');
    expect(schemas.facets.dataset.get('dataQualityMetrics')?.file).toBe('DataQualityMetricsDatasetFacet.json');
    expect(schemas.facets.input.get('subset')?.file).toBe('BaseSubsetDatasetFacet.json');
    expect(schemas.facets.output.get('subset')?.file).toBe('BaseSubsetDatasetFacet.json');
    expect(schemas.facets.job.get('lineage')?.file).toBe('LineageFacet.json');
    expect(schemas.facets.dataset.get('lineage')?.file).toBe('LineageFacet.json');
  });
});

describe("the OpenLineage project's examples", () => {
  it('example_full_event.json is a valid RunEvent', () => {
    const r = checkOpenLineageEvent(exampleFullEvent(), 'body');
    expect(r).toMatchObject({ ok: true, kind: 'RunEvent' });
  });

  it.each(facetExamples().map((e) => [e.label, e] as const))('%s validates against its facet schema and, in a run event, passes', (_label, example) => {
    const position = positionOf(example);
    const schema = schemas.facets[position].get(example.key)!;
    expect(schema.file).toBe(`${example.schema}.json`);
    expect(schema.validate({ [example.key]: example.facet }), JSON.stringify(schema.validate.errors)).toBe(true);
    const r = checkOpenLineageEvent(withFacet(runEvent(), { position, key: example.key, facet: example.facet }), 'body');
    expect(fields(r)).toEqual([]);
  });
});

describe('a required field removed is refused, named by its path', () => {
  it.each([
    [['run', 'runId'], 'body.run.runId'],
    [['run'], 'body.run'],
    [['job', 'namespace'], 'body.job.namespace'],
    [['job', 'name'], 'body.job.name'],
    [['job'], 'body.job'],
    [['eventTime'], 'body.eventTime'],
    [['producer'], 'body.producer'],
    [['schemaURL'], 'body.schemaURL'],
    [['inputs', 0, 'namespace'], 'body.inputs.0.namespace'],
    [['outputs', 0, 'name'], 'body.outputs.0.name'],
  ] as const)('from a RunEvent: %j', (path, field) => {
    expect(fields(checkOpenLineageEvent(without(runEvent(), path), 'body'))).toContain(field);
  });

  it('from a DatasetEvent and a JobEvent, and inside a batch at its index', () => {
    const dataset = { eventTime: '2030-01-01T00:00:00Z', producer: 'https://example.com/p', schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetEvent', dataset: { namespace: 'w', name: 't' } };
    expect(checkOpenLineageEvent(dataset, 'body').ok).toBe(true);
    expect(fields(checkOpenLineageEvent(without(dataset, ['dataset', 'name']), 'body.3'))).toContain('body.3.dataset.name');
    const job = { ...dataset, schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent', job: { namespace: 'n', name: 'j' } } as Record<string, unknown>;
    delete job.dataset;
    expect(checkOpenLineageEvent(job, 'body').ok).toBe(true);
    expect(fields(checkOpenLineageEvent(without(job, ['job', 'namespace']), 'body'))).toContain('body.job.namespace');
  });

  it.each(facetExamples().map((e) => [e.label, e] as const))('from the facet of %s, at every depth', (_label, example) => {
    const position = positionOf(example);
    const schema = schemas.facets[position].get(example.key)!;
    const base = ['body', ...FACET_PATH[position], example.key].join('.');
    let refused = 0;
    for (const path of propertyPaths(example.facet)) {
      const facet = without(example.facet, path);
      // Only properties the facet's own schema requires: those are what must be refused.
      if (schema.validate({ [example.key]: facet })) continue;
      const required = (schema.validate.errors ?? []).some((e) => e.keyword === 'required');
      if (!required) continue;
      refused++;
      const r = checkOpenLineageEvent(withFacet(runEvent(), { position, key: example.key, facet }), 'body');
      expect(r.ok, `${example.label} without ${path.join('.')}`).toBe(false);
      expect(fields(r).some((f) => f.startsWith(base)), `${fields(r).join(', ')} should name ${base}…`).toBe(true);
    }
    // Every facet requires at least the BaseFacet's _producer and _schemaURL.
    expect(refused).toBeGreaterThanOrEqual(2);
    const r = checkOpenLineageEvent(withFacet(runEvent(), { position, key: example.key, facet: without(example.facet, ['_producer']) }), 'body');
    expect(fields(r)).toContain(`${base}._producer`);
  });
});

describe('other refusals name the field', () => {
  it('a standard facet of the wrong shape', () => {
    const bad = withFacet(runEvent(), { position: 'dataset', key: 'schema', facet: { _producer: 'https://p', _schemaURL: 'https://s', fields: [{ type: 'int' }] } });
    expect(fields(checkOpenLineageEvent(bad, 'body'))).toContain('body.outputs.0.facets.schema.fields.0.name');
  });

  it('a format the schema names (uuid, date-time, uri)', () => {
    const e = runEvent();
    expect(fields(checkOpenLineageEvent({ ...e, run: { runId: 'not-a-uuid' } }, 'body'))).toContain('body.run.runId');
    expect(fields(checkOpenLineageEvent({ ...e, eventTime: 'yesterday' }, 'body'))).toContain('body.eventTime');
    expect(fields(checkOpenLineageEvent({ ...e, producer: 'not a uri' }, 'body'))).toContain('body.producer');
  });

  it('eventTime as the integrations spell it, and the refusals naming what is wrong', () => {
    const e = runEvent();
    const check = (eventTime: string) => checkOpenLineageEvent({ ...e, eventTime }, 'body');
    // openlineage-python (Airflow, dbt): microseconds and +00:00; openlineage-java (Spark): milliseconds and Z; nanoseconds; any offset.
    for (const t of ['2026-12-07T02:00:03.123456+00:00', '2026-12-07T02:20:00.001Z', '2026-12-07T02:00:03.123456789Z', '2026-12-07T07:06:00+04:30', '2026-12-06T14:00:03-12:00', '2026-12-07 02:00:03+00:00']) {
      expect(check(t).ok, t).toBe(true);
    }
    // A naive local time (Python's datetime.now().isoformat()) or a Java zone id is no RFC 3339 date-time.
    expect(check('2026-12-07T02:00:03.123456')).toMatchObject({ ok: false, issues: [{ field: 'body.eventTime', message: 'must match format "date-time"' }] });
    expect(check('2026-12-07T02:00:03Z[UTC]')).toMatchObject({ ok: false, issues: [{ field: 'body.eventTime' }] });
    // RFC 3339 allows a leap second, which no date here holds: said so, not blamed on the year.
    expect(check('2026-12-31T23:59:60Z')).toMatchObject({ ok: false, issues: [{ field: 'body.eventTime', message: 'must be a date-time this server can hold: years 1 to 9999 in UTC, no leap second (:60)' }] });
    expect(check('9999-12-31T23:00:00-05:00')).toMatchObject({ ok: false, issues: [{ field: 'body.eventTime', message: 'must be a date-time this server can hold: years 1 to 9999 in UTC, no leap second (:60)' }] });
  });

  it('a JobEvent that carries a run', () => {
    const e = { ...runEvent(), schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobEvent' };
    expect(checkOpenLineageEvent(e, 'body')).toMatchObject({ ok: false, issues: [{ field: 'body.run' }] });
  });

  it('what the database could not store or hash: U+0000, lone surrogates, infinite numbers, absurd nesting, over-long names', () => {
    const e = runEvent();
    expect(fields(checkOpenLineageEvent({ ...e, job: { namespace: 'a\u0000b', name: 'j' } }, 'body'))).toEqual(['body.job.namespace']);
    expect(fields(checkOpenLineageEvent({ ...e, job: { namespace: 'ns', name: '\ud800' } }, 'body'))).toEqual(['body.job.name']);
    const inf = withFacet(e, { position: 'output', key: 'outputStatistics', facet: { _producer: 'https://p', _schemaURL: 'https://s', rowCount: Infinity } });
    expect(fields(checkOpenLineageEvent(inf, 'body'))).toEqual(['body.outputs.0.outputFacets.outputStatistics.rowCount']);
    let deep: unknown = 'x';
    for (let i = 0; i < 200; i++) deep = [deep];
    expect(fields(checkOpenLineageEvent({ ...e, run: { ...(e.run as object), facets: { custom: { _producer: 'https://p', _schemaURL: 'https://s', deep } } } }, 'body'))[0]).toMatch(
      /^body\.run\.facets\.custom\.deep(\.0)+$/,
    );
    expect(fields(checkOpenLineageEvent({ ...e, job: { namespace: 'ns', name: 'é'.repeat(800) } }, 'body'))).toEqual(['body.job.name']);
    expect(fields(checkOpenLineageEvent({ ...e, eventTime: '0000-01-01T00:00:00Z' }, 'body'))).toEqual(['body.eventTime']);
  });

  it('something that is not an event object', () => {
    for (const v of ['text', 7, null, [runEvent()]]) expect(fields(checkOpenLineageEvent(v, 'body.0'))).toEqual(['body.0']);
  });
});
