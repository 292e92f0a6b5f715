import { listValue } from '@duckdb/node-api';
import {
  QUARANTINE_CHECKS,
  registerPiiMacros,
  schemaOf,
  type CheckContext,
  type CheckOutcome,
  type Contract,
  type CountProbe,
  type DeclaredVersion,
  type ExclusionFinding,
  type Locate,
  type PiiFinding,
} from './checks/index.js';
import { countOf } from './checks/check.js';
import { countFromValues, planValueCounts, sampleDictionaries, sampledDictionaryColumns, type Dictionary } from './dictionary.js';
import { AGGREGATES_PER_QUERY, distinctCounts, ident, type DistinctCounts, type DuckSession } from './duck.js';
import { approxDistinct, distinctParts, inferFromAll, inferFromSample, INFERENCE_SAMPLE_ROWS, planFacts, sampleSnapshot, type ColumnFacts, type InspectedColumns, type PlannedColumn } from './inspect.js';
import { noRecords, type Snapshot } from './load.js';
import { locateRows } from './locate.js';
import { aggregatePass, type AggregatePass } from './pass.js';
import {
  CATEGORICAL_MAX_DISTINCT,
  planDetails,
  planHistograms,
  planStats,
  profileColumns,
  sampleBounds,
  valueCounts,
  type Bounds,
  type ColumnDetails,
  type ColumnStats,
  type DatasetProfile,
  type HistogramEntries,
  type Redaction,
} from './profile.js';
import type { ColumnSchema, ValueFormat } from './types.js';

/** Everything the quarantine learned about a snapshot. */
export interface QuarantineReport {
  rows: number;
  schema: ColumnSchema[];
  checks: CheckOutcome[];
  exclusions: ExclusionFinding[];
  profile: DatasetProfile;
}

/** What the quarantine reads and holds the snapshot to. */
export interface QuarantineInput {
  snapshot: Snapshot;
  declared: DeclaredVersion;
  contract: Contract | undefined;
}

/** A check's count probe under its quarantine-wide name (`check:key`). */
interface NamedProbe {
  name: string;
  probe: CountProbe;
}

/** What the passes found: column facts, the profile's statistics and details, every check's probe values by `check:key`. */
interface Findings extends InspectedColumns {
  stats: ColumnStats[];
  probes: Map<string, number>;
  /** Count probes on columns whose values the shared pass counted: from those counts, or per record where they fell short. */
  deferred: NamedProbe[];
  /** Exact value counts, by column, of the columns whose predicates are counted per value. */
  values: Map<string, HistogramEntries>;
  /** The profile's histograms and value counts found so far. */
  details: ColumnDetails;
  /** Where each numeric histogram has its inner edges. */
  bounds: Map<string, Bounds>;
  /** Columns holding values their sample's dictionary lacks: their distinct count and value counts need a pass. */
  outgrown: string[];
}

/**
 * Runs every quarantine check over the snapshot, in order, then profiles it, reading the file
 * as few times as it can: types are inferred from a sample of its first records, which also
 * tells the checks what to look for, which columns have few values (and which), and where the
 * histograms' bins go. One shared pass then computes every column fact, the checks' counts and
 * the profile's statistics, histograms and value counts together; predicates on few-valued
 * columns are evaluated once per value from those counts. The rows checks cite by number are
 * then found for all checks at once (LIMIT queries that stop early). A column whose records
 * contradict the sample's type is inferred again from all of them and the shared pass
 * repeated; values the sample did not have, and checks the pass surprised, cost a pass of
 * their own. The PII findings decide which columns' values the profile withholds.
 */
export async function runQuarantine(duck: DuckSession, input: QuarantineInput): Promise<QuarantineReport> {
  await registerPiiMacros(duck);
  const sample = await sampleSnapshot(duck, input.snapshot);
  const values = input.declared.values;
  let columns = await inferFromSample(duck, { snapshot: input.snapshot, sample, values });
  const sampled = await distinctCounts(duck, { source: sample, columns });
  const few = sampledDictionaryColumns({ columns, sampled, maxDistinct: CATEGORICAL_MAX_DISTINCT });
  const dictionaries = await sampleDictionaries(duck, { sample, columns: [...few] });
  let found = await sharedPass(duck, { ...input, columns, sample, sampled, dictionaries, bounds: await sampleBounds(duck, { sample, rows: sampled.rows, columns, values }) });
  if (found.rows === 0) throw noRecords();
  if (found.contradicted.length > 0) {
    columns = await inferFromAll(duck, { snapshot: input.snapshot, columns, contradicted: found.contradicted, values });
    found = await sharedPass(duck, { ...input, columns, sample, sampled, dictionaries, bounds: await sampleBounds(duck, { sample, rows: sampled.rows, columns, values }) });
  }
  await duck.run(`DROP TABLE ${sample}`);
  await distinctPass(duck, { snapshot: input.snapshot, found, values });
  const details = await secondPass(duck, { snapshot: input.snapshot, found, values });
  const checks = await runChecks(duck, { ...input, found });
  const withheld = new Map<string, Redaction>();
  const findings = (checks.find((c) => c.name === 'pii')?.evidence.findings ?? []) as PiiFinding[];
  for (const f of findings) withheld.set(f.column, 'personal_data');
  if (input.declared.subjectIdColumn) withheld.set(input.declared.subjectIdColumn, 'subject_id');
  const profile = profileColumns({ rows: found.rows, facts: found.facts, stats: found.stats, details, withheld, bounds: found.bounds });
  return { rows: found.rows, schema: schemaOf(found), checks, exclusions: checks.flatMap((c) => c.exclusions ?? []), profile };
}

/**
 * One pass over every record for the column facts, the profile's statistics and histograms,
 * every check's probes, and the value counts of the few-valued columns that have count probes
 * or a profile of values (text, booleans). Count probes on those columns wait for their value
 * counts; a column whose counts fall short of its values is `outgrown`.
 */
async function sharedPass(
  duck: DuckSession,
  input: QuarantineInput & { columns: PlannedColumn[]; sample: string; sampled: DistinctCounts; dictionaries: Map<string, Dictionary>; bounds: Map<string, Bounds> },
): Promise<Findings> {
  const pass = aggregatePass(input.snapshot);
  const plan = { duck, columns: input.columns, declared: input.declared, contract: input.contract, sample: input.sample, sampled: input.sampled, shared: (sql: string) => pass.shared(sql) };
  const keys: Array<readonly [string, string]> = [];
  const counts: NamedProbe[] = [];
  for (const check of QUARANTINE_CHECKS) {
    for (const probe of (await check.probes?.(plan)) ?? []) {
      const name = `${check.name}:${probe.key}`;
      if ('distinctOf' in probe) keys.push([name, pass.addDistinctCount(probe.distinctOf)]);
      else counts.push({ name, probe });
    }
  }
  const counted = input.columns
    .filter((c) => input.dictionaries.has(c.name) && (VALUE_PROFILED.has(c.type) || counts.some((p) => p.probe.column === c.name)))
    .map((c) => input.dictionaries.get(c.name)!);
  const byValue = new Set(counted.map((d) => d.column));
  const readValues = planValueCounts(pass, counted);
  const contractTypes = new Map(input.contract?.schema.columns.map((c) => [c.name, c.type]) ?? []);
  const format = input.declared.values;
  // A sample short of INFERENCE_SAMPLE_ROWS is the whole file: its exact distinct counts are the file's, and no estimate is needed.
  const whole = input.sampled.rows < INFERENCE_SAMPLE_ROWS;
  const readFacts = planFacts(pass, input.columns, { alsoCount: contractTypes, distinctElsewhere: whole ? new Set(input.columns.map((c) => c.name)) : byValue, values: format });
  const readStats = planStats(pass, input.columns, format);
  const readHistograms = planHistograms(pass, { columns: input.columns, bounds: input.bounds, values: format });
  for (const p of counts.filter((p) => !byValue.has(p.probe.column))) keys.push([p.name, addCount(pass, p.probe)]);
  const result = await pass.run(duck);
  const inspected = readFacts(result);
  if (whole) for (const f of inspected.facts) f.distinctApprox = input.sampled.distinct.get(f.name)!;
  const details = readHistograms(result);
  const values = new Map<string, HistogramEntries>();
  const outgrown: string[] = [];
  for (const [column, { entries, counted: n }] of readValues(result)) {
    const facts = inspected.facts.find((f) => f.name === column)!;
    if (n < facts.nonNull) {
      outgrown.push(column);
      continue;
    }
    // Every value is one the dictionary holds: the distinct count is exact.
    facts.distinctApprox = entries.length;
    values.set(column, entries);
    if (VALUE_PROFILED.has(facts.type)) details.set(column, entries);
  }
  await countNumbersByValue(duck, { facts: inspected.facts, sample: whole ? input.sample : undefined, values, format });
  const probes = new Map(keys.map(([name, key]) => [name, result[key] as number]));
  const deferred = counts.filter((p) => byValue.has(p.probe.column));
  return { ...inspected, stats: readStats(result), probes, deferred, values, details, bounds: new Map(input.bounds), outgrown };
}

/**
 * The exact distinct counts of numeric columns read as text, by value (see `distinctParts`),
 * where the counts so far are exact but by spelling: every such column of a file the `sample`
 * holds whole (counted over it, as its spellings were), and those whose `values` counts are
 * complete (counted over their distinct values, at most a few thousand). No pass over the file.
 */
async function countNumbersByValue(duck: DuckSession, input: { facts: ColumnFacts[]; sample: string | undefined; values: Map<string, HistogramEntries>; format: ValueFormat | undefined }): Promise<void> {
  const numeric = input.facts.filter((f) => distinctParts(f) !== undefined);
  if (numeric.length === 0) return;
  // One text per value: the number's own (shortest) spelling, or `~` and the text that is no number.
  const valueText = (f: ColumnFacts, q = ident(f.name)): string => {
    const parts = distinctParts(f, { values: input.format }, q)!;
    // −0 is 0 (as DuckDB's count(DISTINCT) of doubles has it, for JSON Lines and Parquet), but its text is `-0.0`: written as `0.0`.
    return `CASE WHEN ${parts.value} = 0 THEN '0.0' WHEN ${parts.value} IS NOT NULL THEN CAST(${parts.value} AS VARCHAR) ELSE '~' || ${parts.other} END`;
  };
  if (input.sample !== undefined) {
    const counted = await distinctCounts(duck, { source: input.sample, columns: numeric.map((f) => ({ name: f.name, duckType: 'VARCHAR', text: (q: string) => valueText(f, q) })) });
    for (const f of numeric) f.distinctApprox = counted.distinct.get(f.name)!;
    return;
  }
  // In batches, each column in its own branch (c, d) over its values, which go to DuckDB as bound parameters, never into the SQL text.
  const counted = numeric.filter((f) => input.values.has(f.name));
  for (let at = 0; at < counted.length; at += AGGREGATES_PER_QUERY) {
    const batch = counted.slice(at, at + AGGREGATES_PER_QUERY);
    const branches = batch.map((f, j) => `SELECT ${j} AS c, count(DISTINCT ${valueText(f)}) AS d FROM (SELECT unnest($${j + 1}::VARCHAR[]) AS ${ident(f.name)})`);
    const rows = await duck.rows<{ c: number; d: number }>(
      branches.join(' UNION ALL '),
      batch.map((f) => listValue(input.values.get(f.name)!.map((e) => String(e.key)))),
    );
    for (const row of rows) batch[row.c]!.distinctApprox = Number(row.d);
  }
}

/** Types whose profile lists values (top-k): text and booleans. */
const VALUE_PROFILED = new Set(['VARCHAR', 'BOOLEAN']);

const addCount = (pass: AggregatePass, probe: CountProbe): string => pass.add(countOf(probe.predicate((sql) => pass.shared(sql))));

/** The distinct counts (HyperLogLog) of the outgrown columns, in a pass of their own (none when the sample foresaw every value). */
async function distinctPass(duck: DuckSession, input: { snapshot: Snapshot; found: Findings; values: ValueFormat | undefined }): Promise<void> {
  const pass = aggregatePass(input.snapshot);
  const keys = input.found.outgrown.map((column) => {
    const facts = input.found.facts.find((f) => f.name === column)!;
    return [facts, approxDistinct(facts, { shared: pass.shared, values: input.values }).map((sql) => pass.add(sql))] as const;
  });
  const result = await pass.run(duck);
  for (const [facts, parts] of keys) facts.distinctApprox = parts.reduce((n, key) => n + (result[key] as number), 0);
}

/**
 * What the shared pass left open, in one more pass when anything is: the deferred count probes
 * of outgrown columns — from their value counts where they have few values after all, per
 * record where they have not — and the histograms and value counts the profile still lacks.
 * Counts the deferred probes of the other columns from their value counts. Records the probe
 * values and value counts in `found`; returns the profile's details.
 */
async function secondPass(duck: DuckSession, input: { snapshot: Snapshot; found: Findings; values: ValueFormat | undefined }): Promise<ColumnDetails> {
  const { found } = input;
  const pass = aggregatePass(input.snapshot);
  const readDetails = planDetails(pass, { facts: found.facts, stats: found.stats, have: found.details, bounds: found.bounds, values: input.values });
  // Value counts stay small where the estimate says few values (booleans are 99% two values).
  const few = new Set(found.facts.filter((f) => f.duckType === 'VARCHAR' && (f.distinctApprox <= CATEGORICAL_MAX_DISTINCT || f.type === 'BOOLEAN')).map((f) => f.name));
  const open = found.deferred.filter((d) => !found.values.has(d.probe.column));
  const valueKeys = new Map([...new Set(open.map((d) => d.probe.column))].filter((c) => few.has(c)).map((c) => [c, pass.add(valueCounts(c))]));
  const perRecord = open.filter((d) => !valueKeys.has(d.probe.column)).map((d) => [d.name, addCount(pass, d.probe)] as const);
  const result = await pass.run(duck);
  for (const [name, key] of perRecord) found.probes.set(name, result[key] as number);
  for (const [column, key] of valueKeys) found.values.set(column, (result[key] as HistogramEntries | null) ?? []);
  await countPerValue(duck, { found, probes: found.deferred.filter((d) => found.values.has(d.probe.column)) });
  return new Map([...found.details, ...readDetails(result)]);
}

/** Counts probes from their column's value counts (see `countFromValues`), into `found.probes`. */
async function countPerValue(duck: DuckSession, input: { found: Findings; probes: NamedProbe[] }): Promise<void> {
  const { found } = input;
  const byColumn = new Map<string, NamedProbe[]>();
  for (const d of input.probes) byColumn.set(d.probe.column, [...(byColumn.get(d.probe.column) ?? []), d]);
  const nullsOf = new Map(found.facts.map((f) => [f.name, f.nulls]));
  const counts = await countFromValues(
    duck,
    [...byColumn].map(([column, mine]) => ({ column, probes: mine.map((d) => d.probe), values: found.values.get(column)!, nulls: nullsOf.get(column)! })),
  );
  for (const [column, mine] of byColumn) for (const d of mine) found.probes.set(d.name, counts.get(column)!.get(d.probe.key)!);
}

/** Every check in order: counts the passes left open first, then each one's locate requests together, then each decides. */
async function runChecks(duck: DuckSession, input: QuarantineInput & { found: Findings }): Promise<CheckOutcome[]> {
  const located = new Map<string, number[]>();
  const contexts = new Map(QUARANTINE_CHECKS.map((check) => [check.name, checkContext(duck, { ...input, name: check.name, located })]));
  await moreProbes(duck, { snapshot: input.snapshot, found: input.found, contexts });
  const requests: Locate[] = QUARANTINE_CHECKS.flatMap((check) => (check.locate?.(contexts.get(check.name)!) ?? []).map((l) => ({ ...l, key: `${check.name}:${l.key}` })));
  for (const [key, rows] of await locateRows(duck, input.snapshot, requests)) located.set(key, rows);
  const checks: CheckOutcome[] = [];
  for (const check of QUARANTINE_CHECKS) checks.push(await check.run(contexts.get(check.name)!));
  return checks;
}

/** The context check `name` decides in: its probes and located rows by its own keys. */
function checkContext(duck: DuckSession, input: QuarantineInput & { found: Findings; name: string; located: Map<string, number[]> }): CheckContext {
  const { found, name } = input;
  return {
    duck,
    snapshot: input.snapshot,
    rows: found.rows,
    facts: found.facts,
    declared: input.declared,
    contract: input.contract,
    probe: (key) => valueOf(found.probes, `${name}:${key}`),
    hasProbe: (key) => found.probes.has(`${name}:${key}`),
    located: (key) => input.located.get(`${name}:${key}`) ?? [],
  };
}

/** The checks' `moreProbes`, if any asks: per value where the column's value counts are at hand, else in one more pass. */
async function moreProbes(duck: DuckSession, input: { snapshot: Snapshot; found: Findings; contexts: Map<string, CheckContext> }): Promise<void> {
  const { found } = input;
  const asked = QUARANTINE_CHECKS.flatMap((check) => (check.moreProbes?.(input.contexts.get(check.name)!) ?? []).map((probe) => ({ name: `${check.name}:${probe.key}`, probe })));
  const counts = asked.flatMap((d) => ('distinctOf' in d.probe ? [] : [{ name: d.name, probe: d.probe }]));
  await countPerValue(duck, { found, probes: counts.filter((d) => found.values.has(d.probe.column)) });
  const pass = aggregatePass(input.snapshot);
  const keys = [
    ...asked.flatMap((d) => ('distinctOf' in d.probe ? [[d.name, pass.addDistinctCount(d.probe.distinctOf)] as const] : [])),
    ...counts.filter((d) => !found.values.has(d.probe.column)).map((d) => [d.name, addCount(pass, d.probe)] as const),
  ];
  if (keys.length === 0) return;
  const result = await pass.run(duck);
  for (const [name, key] of keys) found.probes.set(name, result[key] as number);
}

/** A probe's value; a check asking for one it did not plan is a bug, not a zero. */
function valueOf(probes: Map<string, number>, key: string): number {
  const value = probes.get(key);
  if (value === undefined) throw new Error(`quarantine probe ${key} was not planned`);
  return value;
}
