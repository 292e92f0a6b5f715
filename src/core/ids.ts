import { monotonicFactory } from 'ulid';

/** Known id prefixes; every id Assay mints is `<prefix>_<ULID>`. */
export type IdPrefix = 'prn' | 'tok' | 'req' | 'err' | 'ds' | 'dsv' | 'run' | 'mv' | 'job' | 'dep' | 'inf' | 'aud' | 'hold' | 'elv' | 'apr' | 'lnd' | 'lev' | 'era';

const nextUlid = monotonicFactory();

/** A new prefixed ULID, e.g. `prn_01J…`; sortable by creation time within this process. */
export function newId(prefix: IdPrefix): string {
  return `${prefix}_${nextUlid()}`;
}
