import { QUARANTINE_CHECKS, schemaOf, type CheckOutcome, type Contract, type DeclaredVersion, type ExclusionFinding, type PiiFinding } from './checks/index.js';
import type { DuckSession } from './duck.js';
import { inspectColumns } from './inspect.js';
import type { LoadedColumn } from './load.js';
import { profileColumns, type DatasetProfile, type Redaction } from './profile.js';
import type { ColumnSchema } from './types.js';

/** Everything the quarantine learned about a loaded snapshot. */
export interface QuarantineReport {
  rows: number;
  schema: ColumnSchema[];
  checks: CheckOutcome[];
  exclusions: ExclusionFinding[];
  profile: DatasetProfile;
}

/**
 * Runs every quarantine check over table `raw`, in order, then profiles it. One shared pass
 * (`inspectColumns`) gives the checks and the profile their column facts; the PII findings
 * decide which columns' values the profile withholds.
 */
export async function runQuarantine(duck: DuckSession, input: { columns: LoadedColumn[]; declared: DeclaredVersion; contract: Contract | undefined }): Promise<QuarantineReport> {
  const contractTypes = new Map(input.contract?.schema.columns.map((c) => [c.name, c.type]) ?? []);
  const { rows, facts } = await inspectColumns(duck, input.columns, contractTypes);
  const ctx = { duck, rows, facts, declared: input.declared, contract: input.contract };
  const checks: CheckOutcome[] = [];
  for (const check of QUARANTINE_CHECKS) checks.push(await check.run(ctx));
  const withheld = new Map<string, Redaction>();
  const findings = (checks.find((c) => c.name === 'pii')?.evidence.findings ?? []) as PiiFinding[];
  for (const f of findings) withheld.set(f.column, 'personal_data');
  if (input.declared.subjectIdColumn) withheld.set(input.declared.subjectIdColumn, 'subject_id');
  const profile = await profileColumns(duck, { rows, facts, withheld });
  return { rows, schema: schemaOf(ctx), checks, exclusions: checks.flatMap((c) => c.exclusions ?? []), profile };
}
