import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/entry.js';
import { auditTextColumns, entryFromRow, entryFromTextRow, leafBytes, leafText, type AuditRow, type AuditTextRow } from '../../src/audit/leaf.js';
import { canonicalJson, ValidationFailed } from '../../src/core/index.js';
import { migrate, type Db } from '../../src/store/index.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';
import { NASTY_STRINGS } from './nasty-strings.js';

// leafText serialises entries without core's validating walk; these check it against
// canonicalJson, the definition, on the values entries are made of and on the ones they are not.

const NASTY = [
  ...NASTY_STRINGS,
  '</script>',
];

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T;
}

/** A JSON value of the kinds entries hold, and some they do not (numbers, booleans, null, nesting). */
function jsonValue(depth: number): unknown {
  switch (randomInt(depth > 2 ? 5 : 7)) {
    case 0:
      return pick(NASTY);
    case 1:
      return pick([0, -0, 1, -1, 0.1, 1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, -1.5e300]);
    case 2:
      return pick([true, false]);
    case 3:
      return null;
    case 4:
      return `s${randomInt(1000)}`;
    case 5:
      return Array.from({ length: randomInt(4) }, () => jsonValue(depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: randomInt(5) }, () => [pick([...NASTY, 'a', 'b', 'B', 'aa', '__proto__', '10', '2']), jsonValue(depth + 1)]));
  }
}

/** Shuffles an object's key order, so nothing relies on the order fields were written in. */
function shuffled<T extends object>(value: T): T {
  const entries = Object.entries(value);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out as T;
}

function randomAuditEntry(i: number): AuditEntry {
  const entry: AuditEntry = {
    id: `aud_${i}_${pick(NASTY)}`,
    recordedAt: new Date(Date.UTC(2026, 0, 1) + randomInt(1e9)).toISOString(),
    actor: shuffled({ principalId: pick(NASTY) || 'p', kind: 'human', authenticatedBy: 'api_token' }),
    action: 'thing.do',
    resource: shuffled({ type: pick(NASTY) || 't', id: pick(NASTY) || 'i' }),
    decision: shuffled({ effect: 'allowed', policyIds: Array.from({ length: randomInt(4) }, () => pick(NASTY)) }),
    outcome: pick(['succeeded', 'failed'] as const),
    payloadRefs: Array.from({ length: randomInt(3) }, () => shuffled({ name: pick(NASTY) || 'n', sha256: 'ab'.repeat(32) })),
    ...(randomInt(2) ? { reason: pick(NASTY) } : {}),
    ...(randomInt(2) ? { requestId: pick(NASTY) } : {}),
  };
  // Entries read back from jsonb may carry anything in their objects: exercise that too.
  if (randomInt(3) === 0) Object.assign(entry.resource, { extra: jsonValue(1) });
  return shuffled(entry);
}

describe('leafText', () => {
  it('is canonicalJson of the entry with its index, on 3000 random entries', () => {
    for (let i = 0; i < 3000; i++) {
      const entry = randomAuditEntry(i);
      const index = randomInt(2 ** 40);
      const expected = canonicalJson({ ...entry, index });
      expect(leafText(entry, index), expected).toBe(expected);
      expect(Buffer.from(leafBytes(entry, index)).equals(Buffer.from(expected, 'utf8'))).toBe(true);
    }
  });

  it('puts the index in its place and lets it win over a stray index member', () => {
    const entry = randomAuditEntry(1);
    const stray = Object.assign({}, entry, { index: 99 }) as AuditEntry;
    expect(leafText(stray, 7)).toBe(canonicalJson({ ...entry, index: 7 }));
  });

  it('rejects what canonicalJson rejects, and serialises what it accepts, outside plain JSON data', () => {
    const entry = randomAuditEntry(2);
    const reject = (value: unknown): void => {
      const bad = { ...entry, resource: { type: 't', id: 'i', value } } as unknown as AuditEntry;
      expect(() => canonicalJson({ ...bad, index: 0 })).toThrow(ValidationFailed);
      expect(() => leafText(bad, 0)).toThrow(ValidationFailed);
    };
    reject('lone \ud800 surrogate');
    reject('lone \udc00 low surrogate');
    reject([1, undefined, 2]);
    reject(Number.NaN);
    reject(() => 1);
    reject(new Map());
    // A lone surrogate in a member name, too.
    const badKey = { ...entry, resource: { type: 't', id: 'i', ['\ud800']: 1 } } as unknown as AuditEntry;
    expect(() => leafText(badKey, 0)).toThrow(ValidationFailed);
    // toJSON and undefined members are canonicalJson's business: the same text either way.
    const dated = { ...entry, resource: { type: 't', id: 'i', at: new Date(0), gone: undefined } } as unknown as AuditEntry;
    expect(leafText(dated, 3)).toBe(canonicalJson({ ...dated, index: 3 }));
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('entryFromTextRow [%s]', (_name, backend) => {
  let opened: OpenedDb;
  let db: Db;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
    await migrate(db);
  });
  afterAll(async () => opened?.cleanup());

  it('reads recorded_at as the driver does, or hands the row back to the driver', async () => {
    const stamps = [
      '2026-11-23 18:18:40+00',
      '2026-11-23 18:18:40.1+00',
      '2026-11-23 18:18:40.12+00',
      '2026-11-23 18:18:40.123+00',
      '2026-11-23 18:18:40.1234+00',
      '2026-11-23 18:18:40.999999+00',
      '2026-02-28 23:59:59.000001+00',
      '0001-01-01 00:00:00+00',
      '0999-12-31 23:59:59.5+00',
      '9999-12-31 23:59:59.999999+00',
      '10000-01-01 00:00:00+00',
      '0044-03-15 12:00:00 BC',
    ];
    await db.transaction(async (tx) => {
      for (const [i, at] of stamps.entries()) {
        await tx.query(
          `INSERT INTO audit_entries (id, recorded_at, actor, action, resource, decision, outcome, reason)
           VALUES ($1, $2::timestamptz, '{"principalId":"p","kind":"human","authenticatedBy":"api_token"}', 'thing.do',
                   '{"type":"t","id":"i"}', '{"effect":"allowed","policyIds":[]}', 'succeeded', $3)`,
          [`aud_ts_${i}`, at, i % 2 ? null : 'why'],
        );
      }
    });
    const viaDriver = await db.query<AuditRow>("SELECT * FROM audit_entries WHERE id LIKE 'aud_ts_%' ORDER BY id");
    const viaText = await db.query<AuditTextRow>(`SELECT ${auditTextColumns('e')} FROM audit_entries e WHERE id LIKE 'aud_ts_%' ORDER BY id`);
    let converted = 0;
    viaText.rows.forEach((row, i) => {
      const fast = entryFromTextRow(row);
      const driverRow = viaDriver.rows[i]!;
      if (fast === undefined) {
        // Only the forms the conversion does not claim: beyond year 9999, or BC.
        expect(row.recorded_at, row.id).toMatch(/^\d{5}|BC$/);
      } else {
        converted++;
        expect(fast, row.id).toEqual(entryFromRow(driverRow));
        expect(leafText(fast, i)).toBe(leafText(entryFromRow(driverRow), i));
      }
    });
    expect(converted).toBe(stamps.length - 2);
  });
});
