import { z } from 'zod';

/**
 * A whole number written as text: ASCII decimal digits, no sign, no leading zero. `Number()` and
 * `z.coerce.number()` read `0x10`, `1e3`, ` 5 ` and `5.0` as numbers, so one version, count or
 * setting could be written many ways and a slip such as `1e3` would be read as 1000, not
 * refused. Leading zeros are refused too: `01` is not how anyone writes a version, and
 * `name@01` and checkpoint sizes were already refused.
 */
export const WHOLE_NUMBER_TEXT = /^(0|[1-9][0-9]*)$/;

/** What a whole number read from text must be. */
export interface WholeNumberBounds {
  min: number;
  /** @default Number.MAX_SAFE_INTEGER */
  max?: number;
  /** The refusal's wording, e.g. "a version number, 1 to 9999". @default "an integer from MIN to MAX" */
  message?: string;
}

/** A zod schema reading decimal digits (as WHOLE_NUMBER_TEXT says) into a number within the bounds. */
export function wholeNumberText(bounds: WholeNumberBounds) {
  const { min, max = Number.MAX_SAFE_INTEGER } = bounds;
  const range = bounds.message ?? `an integer from ${min} to ${max}`;
  return z
    .string()
    .regex(WHOLE_NUMBER_TEXT, `${range}, in decimal digits without leading zeros`)
    .transform(Number)
    // Digits only, so the number is whole: one issue for one too large, not "not an integer" too.
    .pipe(z.number().min(min, range).max(max, range));
}

/** A zod schema for a whole-number setting: a JSON number from a file, or digits (WHOLE_NUMBER_TEXT) from the environment or a flag. */
export function wholeNumberSetting(min: number, max: number = Number.MAX_SAFE_INTEGER) {
  const range = `an integer from ${min} to ${max}`;
  // Neither a number nor digits: say what is wanted rather than zod's "Invalid input".
  const union = z.union([z.number(), wholeNumberText({ min: 0, message: range })], { error: `${range}: a JSON number in the file, decimal digits without leading zeros in a variable or flag` });
  return union.pipe(z.number().int(range).min(min, range).max(max, range));
}
