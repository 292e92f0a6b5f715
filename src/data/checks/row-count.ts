import { counted } from '../../core/index.js';
import type { CheckOutcome, QuarantineCheck } from './check.js';

/** A change in row count beyond this share of the contract version's rows is worth a look. */
const ROW_COUNT_SWING = 0.5;

/** `row_count@1`: the exact number of records; warns when it moved more than 50% from the contract version. */
export const rowCountCheck: QuarantineCheck = {
  name: 'row_count',
  version: 1,
  async run(ctx): Promise<CheckOutcome> {
    const base = { name: this.name, version: this.version, blocking: false };
    const previous = ctx.contract?.rowCount;
    const evidence = { rows: ctx.rows, contractRows: previous ?? null };
    if (previous !== undefined && previous > 0 && Math.abs(ctx.rows - previous) / previous > ROW_COUNT_SWING) {
      return { ...base, status: 'warn', result: `${counted(ctx.rows, 'row')}, ${previous} in version ${ctx.contract!.version}: more than ${ROW_COUNT_SWING * 100}% change`, evidence };
    }
    return { ...base, status: 'pass', result: counted(ctx.rows, 'row'), evidence };
  },
};
