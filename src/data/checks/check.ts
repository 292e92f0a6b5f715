import type { Classification } from '../../policy/index.js';
import type { DuckSession } from '../duck.js';
import type { ColumnFacts } from '../inspect.js';
import type { CheckResult, DatasetSchema, Exclusion } from '../types.js';

/** Row numbers reported per finding: the first this many, in file order. Counts are always exact. */
export const ROW_NUMBER_LIMIT = 100;

/** What the version declares about itself, as the ingester stated it. */
export interface DeclaredVersion {
  classification: Classification;
  residency?: string | undefined;
  residencyColumn?: string | undefined;
  consentColumn?: string | undefined;
  subjectIdColumn?: string | undefined;
}

/** The contract a new version is held to: the latest certified version of the dataset. */
export interface Contract {
  versionId: string;
  version: number;
  schema: DatasetSchema;
  rowCount: number;
}

/** Everything a check may look at: the loaded table `raw`, the shared column facts, the declaration. */
export interface CheckContext {
  duck: DuckSession;
  rows: number;
  facts: ColumnFacts[];
  declared: DeclaredVersion;
  contract: Contract | undefined;
}

/** Rows a check leaves out of the certified data, with the SQL predicate that selects them from `raw`. */
export interface ExclusionFinding extends Exclusion {
  predicate: string;
}

/** A check's result plus the exclusions it decided. */
export interface CheckOutcome extends CheckResult {
  exclusions?: ExclusionFinding[];
}

/** One quarantine check: a name and version that appear in the evidence, and the rule. */
export interface QuarantineCheck {
  name: string;
  version: number;
  run(ctx: CheckContext): Promise<CheckOutcome>;
}

/** The 1-based record numbers of the first rows of `raw` matching `predicate`. */
export async function firstRowNumbers(duck: DuckSession, predicate: string, limit = ROW_NUMBER_LIMIT): Promise<number[]> {
  const rows = await duck.rows<{ r: number }>(`SELECT rowid + 1 AS r FROM raw WHERE ${predicate} ORDER BY rowid LIMIT ${limit}`);
  return rows.map((x) => x.r);
}

/** `name@version`, the form checks are cited in. */
export const checkRef = (c: { name: string; version: number }): string => `${c.name}@${c.version}`;
