import { counted } from '../../core/index.js';
import { TYPE_THRESHOLD, type ColumnFacts, type TextHint } from '../inspect.js';
import { storedTypeOf } from '../load.js';
import type { ColumnSchema } from '../types.js';
import { describeValueFormat } from '../value-format.js';
import type { CheckContext, CheckOutcome, QuarantineCheck } from './check.js';

/** The schema a version's column facts describe: each column's logical type, and the type the certified Parquet will hold it as (the loaded one). */
export function schemaOf(ctx: Pick<CheckContext, 'facts'>): ColumnSchema[] {
  return ctx.facts.map((f) => ({ name: f.name, type: f.type, storedAs: storedTypeOf(f.duckType), nullable: f.nulls > 0 }));
}

/** Binary floating-point types, by how many significant bits they keep. */
const FLOAT_BITS: Record<string, number> = { FLOAT: 24, REAL: 24, DOUBLE: 53 };

/**
 * Whether a column the contract stored as `contract` loses exactness stored as `now`: exact
 * decimals (DECIMAL(p,s)) that arrive as binary floating point (0.10 is then 0.1000000000000000055…),
 * or doubles that arrive as 32-bit floats (7 significant digits instead of 15).
 */
function losesExactness(contract: string, now: string): boolean {
  const bits = FLOAT_BITS[now];
  if (bits === undefined) return false;
  if (contract.startsWith('DECIMAL')) return true;
  const before = FLOAT_BITS[contract];
  return before !== undefined && bits < before;
}

/** A contract column whose certified Parquet type differs now. */
interface StoredChange {
  column: string;
  contractStoredAs: string;
  storedAs: string;
  /** True when values the contract held exactly arrive as binary floating point, or doubles as 32-bit floats. */
  losesExactness: boolean;
}

/** The contract columns (those whose stored type the contract recorded) stored otherwise now. */
function storedChanges(contract: ColumnSchema[], inferred: ColumnSchema[]): StoredChange[] {
  const now = new Map(inferred.map((c) => [c.name, c.storedAs]));
  return contract.flatMap((c) => {
    const storedAs = now.get(c.name);
    if (c.storedAs === undefined || storedAs === undefined || storedAs === c.storedAs) return [];
    return [{ column: c.name, contractStoredAs: c.storedAs, storedAs, losesExactness: losesExactness(c.storedAs, storedAs) }];
  });
}

/**
 * The missing contract columns whose name the file spells in another case only (`Amount` as
 * `amount`), each with that spelling: column names are matched exactly, as readers of the
 * certified Parquet such as pandas and Spark match them, so such a column is missing.
 */
function renamedByCase(missing: string[], added: string[]): Map<string, string> {
  const byLower = new Map(added.map((a) => [a.toLowerCase(), a]));
  return new Map(missing.flatMap((m) => (byLower.has(m.toLowerCase()) ? [[m, byLower.get(m.toLowerCase())!] as const] : [])));
}

/** What a text column's values look like, in words, with the declaration that reads them as numbers. */
const HINT_TEXT: Record<TextHint, string> = {
  decimal_comma: "numbers with a decimal comma, as 1.234,56: declare decimalSeparator ','",
  ambiguous_point: "numbers whose point may separate thousands, as 1.000 (one, or a thousand): declare decimalSeparator ',' or '.'",
  local_date: 'dates written day or month first, as 31.12.2025 or 31/12/2025: declare dateFormat, e.g. %d.%m.%Y, %d/%m/%Y or (in US exports) %m/%d/%Y',
};

/** The text columns a declared decimal separator or date format would read as numbers or dates, for the evidence, and in words (empty when none). */
function readAsText(facts: ColumnFacts[]): { evidence: Array<{ column: string; looksLike: TextHint }>; text: string } {
  const evidence = facts.flatMap((f) => (f.looksLike ? [{ column: f.name, looksLike: f.looksLike }] : []));
  return { evidence, text: evidence.length ? `read as text: ${evidence.map((h) => `${h.column} (${HINT_TEXT[h.looksLike]})`).join('; ')}` : '' };
}

/**
 * `schema@4`: the inferred schema, held to the contract (the latest certified version's
 * schema). A contract column that is missing, or whose values no longer fit its type
 * (fewer than 99% do), fails and blocks; so does one the contract stored exactly that now
 * arrives as binary floating point (`losesExactness`: a DECIMAL(18,2) amount as DOUBLE). Any
 * other change of a contract column's stored type (the certified Parquet's, which readers of it
 * depend on) warns, as new columns do. Without a contract it passes: this schema becomes the
 * contract once certified. Version 3 records and compares stored types (version 2 recorded a
 * DECIMAL as DOUBLE, and a DECIMAL amount arriving as DOUBLE passed). Version 2 infers DATE
 * only for values without a time of day (version 1 called a column of timestamps DATE; see
 * `temporalOf`), and no number for values with a leading zero before a digit (codes, see `fits`).
 * Version 4 infers no number for a column of a file without a declared decimal separator whose
 * points may separate thousands (`1.000`, `12.500`) and no value settles as decimal points
 * (version 3 read `1.000` as one), and warns, naming such columns, those holding numbers
 * with a decimal comma and those holding dates written day or month first
 * (`evidence.readAsText`), that they are read as text.
 */
export const schemaCheck: QuarantineCheck = {
  name: 'schema',
  version: 4,
  async run(ctx): Promise<CheckOutcome> {
    const inferred = schemaOf(ctx);
    const base = { name: this.name, version: this.version, blocking: true };
    // The declared way of writing numbers and dates decided which values fit which type.
    const values = ctx.declared.values ? { values: ctx.declared.values } : {};
    // Amounts read as text are no failure of the file, but the steward should declare how it writes them.
    const asText = readAsText(ctx.facts);
    if (!ctx.contract) {
      const result = [`${counted(inferred.length, 'column')} inferred; no certified version yet, so no contract to compare with`, asText.text].filter(Boolean).join('; ');
      return { ...base, status: asText.text ? 'warn' : 'pass', result, evidence: { inferred, contract: null, readAsText: asText.evidence, ...values } };
    }
    const byName = new Map(ctx.facts.map((f) => [f.name, f]));
    const missing: string[] = [];
    const changed: Array<{ column: string; contractType: string; inferredType: string; fitting: number }> = [];
    for (const c of ctx.contract.schema.columns) {
      const f = byName.get(c.name);
      if (!f) missing.push(c.name);
      else if (f.type !== c.type && (f.conforming[c.type] ?? 0) < TYPE_THRESHOLD * f.nonNull) {
        changed.push({ column: c.name, contractType: c.type, inferredType: f.type, fitting: f.conforming[c.type] ?? 0 });
      }
    }
    const known = new Set(ctx.contract.schema.columns.map((c) => c.name));
    const added = inferred.filter((c) => !known.has(c.name)).map((c) => c.name);
    const stored = storedChanges(ctx.contract.schema.columns, inferred);
    const inexact = stored.filter((c) => c.losesExactness);
    const caseChanged = renamedByCase(missing, added);
    const evidence = { inferred, contract: { versionId: ctx.contract.versionId, version: ctx.contract.version }, missing, changed, added, caseChanged: [...caseChanged].map(([column, now]) => ({ column, now })), stored, readAsText: asText.evidence, ...values };
    const storedText = (changes: StoredChange[]): string => changes.map((c) => `${c.column} ${c.contractStoredAs}→${c.storedAs}`).join(', ');
    if (missing.length > 0 || changed.length > 0 || inexact.length > 0) {
      // A type change under another declared way of writing numbers and dates is most likely the declaration's: say so.
      const contractValues = describeValueFormat(ctx.contract.values);
      const ownValues = describeValueFormat(ctx.declared.values);
      const hint = changed.length > 0 && contractValues !== ownValues ? `version ${ctx.contract.version} was read with ${contractValues}, this one with ${ownValues}` : '';
      const what = [
        // A column whose name only changed case reads as dropped without its new spelling beside it.
        missing.length ? `missing ${missing.map((m) => (caseChanged.has(m) ? `${m} (the file has ${caseChanged.get(m)}: its name changed case)` : m)).join(', ')}` : '',
        changed.length ? `type changed: ${changed.map((c) => `${c.column} ${c.contractType}→${c.inferredType}`).join(', ')}` : '',
        inexact.length ? `stored exactly no more: ${storedText(inexact)}` : '',
        hint,
        // The new columns too: with a column missing they are most likely what it became.
        added.length ? `new columns: ${added.join(', ')}` : '',
        asText.text,
      ]
        .filter(Boolean)
        .join('; ');
      return { ...base, status: 'fail', result: `breaks the contract of version ${ctx.contract.version}: ${what}`, evidence };
    }
    const warnings = [added.length ? `new columns beyond the contract of version ${ctx.contract.version}: ${added.join(', ')}` : '', stored.length ? `stored type changed from the contract of version ${ctx.contract.version}: ${storedText(stored)}` : '', asText.text]
      .filter(Boolean)
      .join('; ');
    if (warnings) return { ...base, status: 'warn', result: warnings, evidence };
    return { ...base, status: 'pass', result: `matches the contract of version ${ctx.contract.version}`, evidence };
  },
};
