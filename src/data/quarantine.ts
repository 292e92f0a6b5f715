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
import { countFromValues, sampledDictionaryColumns } from './dictionary.js';
import type { DuckSession } from './duck.js';
import { inferFromAll, inferFromSample, planFacts, sampleSnapshot, type InspectedColumns, type PlannedColumn } from './inspect.js';
import { noRecords, type Snapshot } from './load.js';
import { locateRows } from './locate.js';
import { aggregatePass, type AggregatePass } from './pass.js';
import {
  CATEGORICAL_MAX_DISTINCT,
  planDetails,
  planStats,
  profileColumns,
  valueCounts,
  type ColumnDetails,
  type ColumnStats,
  type DatasetProfile,
  type HistogramEntries,
  type Redaction,
} from './profile.js';
import type { ColumnSchema } from './types.js';

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
  /** Count probes left for the second pass: their column had few values in the sample. */
  deferred: NamedProbe[];
  /** Value counts (from the second pass) of the columns whose predicates are counted per value. */
  values: Map<string, HistogramEntries>;
}

/**
 * Runs every quarantine check over the snapshot, in order, then profiles it, reading the file
 * as few times as it can: types are inferred from a sample of its first records, which also
 * tells the checks what to look for and which columns have few values. The shared pass
 * computes every column fact, the checks' counts and the profile's statistics together; the
 * second computes the profile's histograms and value counts, and from those the counts of
 * predicates on few-valued columns, evaluated once per value; the rows checks cite by number
 * are then found for all checks at once (LIMIT queries that stop early). A column whose
 * records contradict the sample's type is inferred again from all of them and the shared
 * pass repeated; a check the passes surprised gets a pass of its own. The PII findings decide
 * which columns' values the profile withholds.
 */
export async function runQuarantine(duck: DuckSession, input: QuarantineInput): Promise<QuarantineReport> {
  await registerPiiMacros(duck);
  const sample = await sampleSnapshot(duck, input.snapshot);
  let columns = await inferFromSample(duck, { snapshot: input.snapshot, sample });
  const few = await sampledDictionaryColumns(duck, { sample, columns, maxDistinct: CATEGORICAL_MAX_DISTINCT });
  let found = await sharedPass(duck, { ...input, columns, sample, few });
  if (found.rows === 0) throw noRecords();
  if (found.contradicted.length > 0) {
    columns = await inferFromAll(duck, { snapshot: input.snapshot, columns, contradicted: found.contradicted });
    found = await sharedPass(duck, { ...input, columns, sample, few });
  }
  await duck.run(`DROP TABLE ${sample}`);
  const details = await secondPass(duck, { snapshot: input.snapshot, found });
  const checks = await runChecks(duck, { ...input, found });
  const withheld = new Map<string, Redaction>();
  const findings = (checks.find((c) => c.name === 'pii')?.evidence.findings ?? []) as PiiFinding[];
  for (const f of findings) withheld.set(f.column, 'personal_data');
  if (input.declared.subjectIdColumn) withheld.set(input.declared.subjectIdColumn, 'subject_id');
  const profile = profileColumns({ rows: found.rows, facts: found.facts, stats: found.stats, details, withheld });
  return { rows: found.rows, schema: schemaOf(found), checks, exclusions: checks.flatMap((c) => c.exclusions ?? []), profile };
}

/**
 * One pass over every record for the column facts, the profile's statistics and every check's
 * probes, but for count probes on `few`-valued columns, which wait for the second pass.
 */
async function sharedPass(duck: DuckSession, input: QuarantineInput & { columns: PlannedColumn[]; sample: string; few: Set<string> }): Promise<Findings> {
  const pass = aggregatePass(input.snapshot);
  const contractTypes = new Map(input.contract?.schema.columns.map((c) => [c.name, c.type]) ?? []);
  const readFacts = planFacts(pass, input.columns, contractTypes);
  const readStats = planStats(pass, input.columns);
  const plan = { duck, columns: input.columns, declared: input.declared, contract: input.contract, sample: input.sample, shared: (sql: string) => pass.shared(sql) };
  const keys: Array<readonly [string, string]> = [];
  const deferred: NamedProbe[] = [];
  for (const check of QUARANTINE_CHECKS) {
    for (const probe of (await check.probes?.(plan)) ?? []) {
      const name = `${check.name}:${probe.key}`;
      if ('sql' in probe) keys.push([name, pass.add(probe.sql)]);
      else if (input.few.has(probe.column)) deferred.push({ name, probe });
      else keys.push([name, addCount(pass, probe)]);
    }
  }
  const result = await pass.run(duck);
  return { ...readFacts(result), stats: readStats(result), probes: new Map(keys.map(([name, key]) => [name, result[key] as number])), deferred, values: new Map() };
}

const addCount = (pass: AggregatePass, probe: CountProbe): string => pass.add(countOf(probe.predicate((sql) => pass.shared(sql))));

/**
 * The second pass: the profile's histograms and value counts, and the deferred count probes —
 * from the value counts of their column where it has few values after all, per record where
 * it has not. Records the probe values and value counts in `found`; returns the profile's details.
 */
async function secondPass(duck: DuckSession, input: { snapshot: Snapshot; found: Findings }): Promise<ColumnDetails> {
  const { found } = input;
  const pass = aggregatePass(input.snapshot);
  const readDetails = planDetails(pass, { facts: found.facts, stats: found.stats });
  // Value counts stay small where the estimate says few values (booleans are 99% two values).
  const few = new Set(found.facts.filter((f) => f.duckType === 'VARCHAR' && (f.distinctApprox <= CATEGORICAL_MAX_DISTINCT || f.type === 'BOOLEAN')).map((f) => f.name));
  const valueKeys = new Map([...new Set(found.deferred.map((d) => d.probe.column))].filter((c) => few.has(c)).map((c) => [c, pass.add(valueCounts(c))]));
  const perRecord = found.deferred.filter((d) => !valueKeys.has(d.probe.column)).map((d) => [d.name, addCount(pass, d.probe)] as const);
  const result = await pass.run(duck);
  for (const [name, key] of perRecord) found.probes.set(name, result[key] as number);
  for (const [column, key] of valueKeys) found.values.set(column, (result[key] as HistogramEntries | null) ?? []);
  await countPerValue(duck, { found, probes: found.deferred.filter((d) => valueKeys.has(d.probe.column)) });
  return readDetails(result);
}

/** Counts probes from their column's value counts (see `countFromValues`), into `found.probes`. */
async function countPerValue(duck: DuckSession, input: { found: Findings; probes: NamedProbe[] }): Promise<void> {
  const { found } = input;
  for (const column of new Set(input.probes.map((d) => d.probe.column))) {
    const mine = input.probes.filter((d) => d.probe.column === column);
    const nulls = found.facts.find((f) => f.name === column)!.nulls;
    const counts = await countFromValues(duck, { column, probes: mine.map((d) => d.probe), values: found.values.get(column)!, nulls });
    for (const d of mine) found.probes.set(d.name, counts.get(d.probe.key)!);
  }
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
  await countPerValue(duck, { found, probes: asked.filter((d) => found.values.has(d.probe.column)) });
  const perRecord = asked.filter((d) => !found.values.has(d.probe.column));
  if (perRecord.length === 0) return;
  const pass = aggregatePass(input.snapshot);
  const keys = perRecord.map((d) => [d.name, addCount(pass, d.probe)] as const);
  const result = await pass.run(duck);
  for (const [name, key] of keys) found.probes.set(name, result[key] as number);
}

/** A probe's value; a check asking for one it did not plan is a bug, not a zero. */
function valueOf(probes: Map<string, number>, key: string): number {
  const value = probes.get(key);
  if (value === undefined) throw new Error(`quarantine probe ${key} was not planned`);
  return value;
}
