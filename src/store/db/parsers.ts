/**
 * Type parsers shared by both drivers, so PGlite and PostgreSQL hand back identical values.
 * Keys are PostgreSQL type OIDs.
 */
export const PG_TYPE = {
  int8: 20,
  numeric: 1700,
  timestamp: 1114,
  timestamptz: 1184,
} as const;

function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value ${value} exceeds the safe integer range`);
  return n;
}

function parseTimestamp(value: string): string {
  // PostgreSQL prints `2026-11-23 15:28:15.123456+00`; sessions run in UTC.
  const iso = value.includes('T') ? value : value.replace(' ', 'T');
  const withZone = /([+-]\d\d(:?\d\d)?|Z)$/.test(iso) ? iso.replace(/([+-]\d\d)$/, '$1:00') : `${iso}Z`;
  const d = new Date(withZone);
  if (Number.isNaN(d.getTime())) return value;
  return d.toISOString();
}

/** OID → parser for the types whose default parsing differs between drivers. */
export const sharedParsers: Record<number, (value: string) => unknown> = {
  [PG_TYPE.int8]: parseInt8,
  [PG_TYPE.numeric]: (v) => v,
  [PG_TYPE.timestamp]: parseTimestamp,
  [PG_TYPE.timestamptz]: parseTimestamp,
};
