import { InvalidArgumentError } from 'commander';

/**
 * A dataset version as typed: `3`, or `v3` as Assay prints it (`loans v3`). Refused as a usage
 * error before anything is sent, so every command taking a version reads it by one rule.
 */
export function datasetVersion(value: string): string {
  const m = /^v?([1-9]\d{0,9})$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('must be a version number, e.g. 3 (or v3)');
  return m[1]!;
}
