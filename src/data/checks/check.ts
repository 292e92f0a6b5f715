import type { Classification } from '../../policy/index.js';
import type { DistinctCounts, DuckSession } from '../duck.js';
import type { ColumnFacts, PlannedColumn } from '../inspect.js';
import type { Snapshot } from '../load.js';
import type { CheckResult, DatasetSchema, Exclusion, ValueFormat } from '../types.js';

/** Row numbers reported per finding: the first this many, in file order. Counts are always exact. */
export const ROW_NUMBER_LIMIT = 100;

/** What the version declares about itself, as the ingester stated it. */
export interface DeclaredVersion {
  classification: Classification;
  residency?: string | undefined;
  residencyColumn?: string | undefined;
  consentColumn?: string | undefined;
  subjectIdColumn?: string | undefined;
  /** How the file writes numbers and dates, when not in DuckDB's own syntax (CSV only). */
  values?: ValueFormat | undefined;
}

/** The contract a new version is held to: the latest certified version of the dataset. */
export interface Contract {
  versionId: string;
  version: number;
  schema: DatasetSchema;
  rowCount: number;
  /** How that version's file wrote numbers and dates (null: DuckDB's own syntax): its types were inferred so. */
  values: ValueFormat | null;
  /** The column that version excluded rows without consent by (null: none declared). */
  consentColumn: string | null;
  /** Where that version's data had to reside, and the column its rows were held to (null: none declared). */
  residency: string | null;
  residencyColumn: string | null;
}

/** What a check plans its probes with, before the shared pass: the columns with the types they are held to, and a sample. */
export interface CheckPlan {
  duck: DuckSession;
  columns: PlannedColumn[];
  declared: DeclaredVersion;
  contract: Contract | undefined;
  /** FROM clause of the first records (see INFERENCE_SAMPLE_ROWS), to plan by what they hold. */
  sample: string;
  /** The sample's record count and exact distinct counts per column. */
  sampled: DistinctCounts;
  /** A per-record expression computed once for every probe that uses it (see AggregatePass.shared). */
  shared(sql: string): string;
}

/** How many distinct values an expression over the records takes, exactly (every check's probes share one pass). */
export interface DistinctProbe {
  key: string;
  /** The expression, SQL over the records' columns. */
  distinctOf: string;
}

/**
 * How many records a predicate holds for, where the predicate reads one column only. When the
 * sample shows that column to have few distinct values, the predicate is evaluated once per
 * value (on the column's value counts) instead of once per record.
 */
export interface CountProbe {
  key: string;
  column: string;
  /** The predicate, with per-record expressions named through `shared` where the pass computes them once. */
  predicate(shared: (sql: string) => string): string;
}

/** What a check asks the shared pass for. */
export type Probe = DistinctProbe | CountProbe;

/** Records a check reports by number: the first ROW_NUMBER_LIMIT of the `count` records matching `predicate` (SQL over the records' columns). */
export interface Locate {
  key: string;
  predicate: string;
  count: number;
}

/** Everything a check may look at: the records, the shared column facts and probe values, the declaration. */
export interface CheckContext {
  duck: DuckSession;
  snapshot: Snapshot;
  rows: number;
  facts: ColumnFacts[];
  declared: DeclaredVersion;
  contract: Contract | undefined;
  /** The value of this check's probe `key` from the shared pass (or `moreProbes`). */
  probe(key: string): number;
  /** Whether this check planned probe `key`. */
  hasProbe(key: string): boolean;
  /** The first row numbers of this check's `locate` request `key`, in file order (empty before they are located). */
  located(key: string): number[];
}

/** Rows a check leaves out of the certified data, with the SQL predicate that selects them. */
export interface ExclusionFinding extends Exclusion {
  predicate: string;
}

/** A check's result plus the exclusions it decided. */
export interface CheckOutcome extends CheckResult {
  exclusions?: ExclusionFinding[];
}

/**
 * One quarantine check: a name and version that appear in the evidence, and the rule. A check
 * reads no records itself where it can help it: it names the aggregates it needs (`probes`,
 * computed with every other check's in one pass; `moreProbes` in another, when the first
 * surprised it) and the records it must cite by number (`locate`, found for all checks
 * together), then decides from those.
 */
export interface QuarantineCheck {
  name: string;
  version: number;
  probes?(plan: CheckPlan): Probe[] | Promise<Probe[]>;
  /** Probes needed only when the shared pass found what the sample did not foresee: they get a pass of their own (rarely needed). */
  moreProbes?(ctx: CheckContext): Probe[];
  locate?(ctx: CheckContext): Locate[];
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

/**
 * How many records a predicate holds for (null counts as false; zero, not null, when none:
 * unlike `count_if`). A CASE, not a FILTER: DuckDB filters the input separately for every
 * aggregate with a FILTER, which costs as much as the predicate again.
 */
export const countOf = (predicate: string): string => `count(CASE WHEN ${predicate} THEN 1 END)`;

/** `name@version`, the form checks are cited in. */
export const checkRef = (c: { name: string; version: number }): string => `${c.name}@${c.version}`;
