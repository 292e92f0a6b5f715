import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryFromRow, leafText, type AuditRow } from '../../src/audit/leaf.js';
import { leafHashOfText } from '../../src/audit/merkle.js';
import { STREAMED_LEAF_SQL, streamedLeafText, verifiedLeafHash } from '../../src/audit/verify-rows.js';
import { migrate, type Db, type Queryable } from '../../src/store/index.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';

// Full verification reads each entry as one line of text the database writes, and rewrites it
// into the leaf text. That text must be exactly leafText(entryFromRow(row), idx), the one the
// sequencer wrote, for every entry the conversion does not hand back to the long way.

const NASTY = [
  '',
  'plain',
  'quote " and backslash \\ and slash /',
  'controls \u0001\u0008\t\n\u000b\f\r\u001f and DEL \u007f',
  'ünïcödé — ✓ 中文 עברית',
  'astral 😀 𝄞 pairs',
  'separators \u2028 \u2029',
  '\\u00e9 looks like an escape',
  'tab\tin the middle',
  '", "injected": "',
];

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T;
}

const STAMPS = [
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
];
/** Timestamps entryFromTextRow does not convert: the long way reads these. */
const OUT_OF_FORM = ['10000-01-01 00:00:00+00', '0044-03-15 12:00:00 BC'];

interface EntryValues {
  id: string;
  recordedAt: string;
  actor: unknown;
  action: string;
  resource: unknown;
  decision: unknown;
  outcome: string;
  reason: string | null;
  requestId: string | null;
  payloadRefs: unknown;
}

/** Strings that need no escaping in JSON. */
const PLAIN = ['plain', 'ünïcödé — ✓ 中文 עברית', 'astral 😀 𝄞 pairs', 'separators \u2028 \u2029', 'a, b', 'a: b', '{[x]}', 'null', ''];

/** An entry of the shape most entries have (see COMMON_LINE in verify-rows.ts). */
function commonValues(i: number): EntryValues {
  const us = String(randomInt(1_000_000)).padStart(6, '0');
  return {
    id: `aud_common_${i}_${pick(PLAIN)}`,
    recordedAt: `2026-01-01 00:00:${String(randomInt(60)).padStart(2, '0')}${randomInt(4) ? `.${us.slice(0, 1 + randomInt(6))}` : ''}+00`,
    actor: { principalId: pick(PLAIN), kind: 'human', authenticatedBy: 'api_token' },
    action: 'thing.do',
    resource: { type: pick(PLAIN), id: pick(PLAIN) },
    decision: { effect: pick(['allowed', 'denied']), policyIds: Array.from({ length: randomInt(4) }, () => pick(PLAIN)) },
    outcome: pick(['succeeded', 'failed']),
    reason: randomInt(2) ? pick(PLAIN) : null,
    requestId: randomInt(2) ? pick(PLAIN) : null,
    payloadRefs: [],
  };
}

function randomValues(i: number): EntryValues {
  const us = String(randomInt(1_000_000)).padStart(6, '0');
  return {
    id: `aud_${i}_${pick(NASTY)}`,
    recordedAt: i < STAMPS.length + OUT_OF_FORM.length ? ([...STAMPS, ...OUT_OF_FORM][i] as string) : `2026-01-01 00:00:${String(randomInt(60)).padStart(2, '0')}.${us.slice(0, 1 + randomInt(6))}+00`,
    actor: {
      principalId: pick(NASTY) || 'p',
      kind: pick(['human', 'agent']),
      authenticatedBy: 'api_token',
      ...(randomInt(3) === 0 ? { elevation: { id: `elev_${i}`, reason: pick(NASTY), expiresAt: '2026-01-01T00:00:00.000Z' } } : {}),
    },
    action: `thing.do${pick(['', '_more'])}`,
    resource: { type: pick(NASTY) || 't', id: pick(NASTY) || 'i', ...(randomInt(4) === 0 ? { extra: [1.5, -0, 1e21, true, null, { 'a ': 1, a: 2 }] } : {}) },
    decision: { effect: pick(['allowed', 'denied']), policyIds: Array.from({ length: randomInt(4) }, () => pick(NASTY)) },
    outcome: pick(['succeeded', 'failed']),
    reason: randomInt(2) ? pick(NASTY) : null,
    requestId: randomInt(2) ? pick(NASTY) : null,
    payloadRefs: Array.from({ length: randomInt(3) }, () => ({ name: pick(NASTY) || 'n', sha256: 'ab'.repeat(32) })),
  };
}

async function insertEntries(db: Queryable, entries: readonly EntryValues[]): Promise<void> {
  for (const e of entries) {
    await db.query(
      `INSERT INTO audit_entries (id, recorded_at, actor, action, resource, decision, outcome, reason, request_id, payload_refs)
       VALUES ($1, $2::timestamptz, $3::jsonb, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10::jsonb)`,
      [e.id, e.recordedAt, JSON.stringify(e.actor), e.action, JSON.stringify(e.resource), JSON.stringify(e.decision), e.outcome, e.reason, e.requestId, JSON.stringify(e.payloadRefs)],
    );
  }
}

/** Leaves as the verifier reads them, for the given entry ids (index = position), with the given leaf bytes and hashes. */
async function streamedLines(db: Queryable, leaves: ReadonlyArray<{ id: string; leaf: Buffer; hash: Buffer }>): Promise<string[]> {
  const r = await db.query<{ line: string }>(
    `SELECT ${STREAMED_LEAF_SQL} AS line
       FROM (SELECT (n - 1)::bigint AS idx, id AS entry_id, decode(leaf, 'hex') AS leaf, decode(hash, 'hex') AS leaf_hash
               FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(id, leaf, hash, n)) l
       LEFT JOIN audit_entries e ON e.id = l.entry_id
      ORDER BY l.idx`,
    [leaves.map((l) => l.id), leaves.map((l) => l.leaf.toString('hex')), leaves.map((l) => l.hash.toString('hex'))],
  );
  return r.rows.map((row) => row.line);
}

describe.each(eachBackend().map((b) => [b.name, b] as const))('streamed leaves [%s]', (_name, backend) => {
  let opened: OpenedDb;
  let db: Db;
  let rows: AuditRow[];
  let texts: Array<string | undefined>;
  let outOfForm: Set<string>;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
    await migrate(db);
    const entries = [...Array.from({ length: 400 }, (_, i) => randomValues(i)), ...Array.from({ length: 200 }, (_, i) => commonValues(i))];
    outOfForm = new Set(entries.filter((e) => OUT_OF_FORM.includes(e.recordedAt)).map((e) => e.id));
    await db.transaction((tx) => insertEntries(tx, entries));
    rows = (await db.query<AuditRow>('SELECT * FROM audit_entries ORDER BY id')).rows;
    // The leaf texts, as the sequencer writes them (undefined for what canonicalJson refuses: none here).
    texts = rows.map((row, idx) => leafText(entryFromRow(row), idx));
  });
  afterAll(async () => opened?.cleanup());

  const leavesOf = (textOf: (i: number) => string | undefined): Array<{ id: string; leaf: Buffer; hash: Buffer }> =>
    rows.map((row, i) => {
      const text = textOf(i) ?? '';
      return { id: row.id, leaf: Buffer.from(text, 'utf8'), hash: leafHashOfText(text) };
    });

  it('rewrites every entry into the leaf text the sequencer writes, or hands back only the timestamps it does not read', async () => {
    const lines = await streamedLines(db, leavesOf((i) => texts[i]));
    expect(lines).toHaveLength(rows.length);
    let handedBack = 0;
    lines.forEach((line, i) => {
      const got = streamedLeafText(line);
      if (got === undefined) {
        handedBack++;
        expect(outOfForm.has(rows[i]!.id), line).toBe(true);
      } else {
        expect(got, line).toBe(texts[i]);
      }
    });
    expect(handedBack).toBe(OUT_OF_FORM.length);
  });

  it('reads each line the same both ways: the one for the common shape, and the general one', async () => {
    const lines = await streamedLines(db, leavesOf((i) => texts[i]));
    let common = 0;
    lines.forEach((line, i) => {
      const viaCommon = streamedLeafText(line, 'common');
      if (viaCommon !== undefined) {
        common++;
        expect(viaCommon, line).toBe(texts[i]);
      }
      if (!outOfForm.has(rows[i]!.id)) expect(streamedLeafText(line, 'general'), line).toBe(texts[i]);
    });
    // Every entry commonValues makes has the common shape.
    expect(common).toBeGreaterThanOrEqual(200);

    // What the common way must leave to the general one: escapes (PostgreSQL writes none that
    // are not canonical, but a line is checked, not trusted), control characters, lone surrogates.
    const line = lines[rows.findIndex((r) => r.id.startsWith('aud_common_'))]!;
    expect(streamedLeafText(line, 'common')).toBeDefined();
    const resource = line.split('\t')[5]!;
    for (const [type, canonical] of [
      ['"d\\u0041"', '"dA"'],
      ['"a\\/b"', '"a/b"'],
      ['"a\\"b"', '"a\\"b"'],
    ]) {
      const other = line.replace(resource, resource.replace(/"type": "[^"]*"/, `"type": ${type}`));
      expect(streamedLeafText(other, 'common'), other).toBeUndefined();
      expect(streamedLeafText(other, 'general'), other).toContain(`"type":${canonical}}`);
    }
    for (const bad of ['\u0001', '\ud800']) {
      const other = line.replace(resource, resource.replace(/"type": "/, `"type": "${bad}`));
      expect(streamedLeafText(other, 'common'), other).toBeUndefined();
      expect(streamedLeafText(other, 'general'), other).toBeUndefined();
    }
  });

  it('vouches for a leaf only when its bytes hash to its hash and its entry produces them', async () => {
    const good = await streamedLines(db, leavesOf((i) => texts[i]));
    good.forEach((line, i) => {
      const vouched = verifiedLeafHash(line, rows.length);
      if (streamedLeafText(line) !== undefined) expect(vouched, line).toBe(leafHashOfText(texts[i]!).toString('hex'));
      else expect(vouched).toBeUndefined();
      // Not for a leaf no checkpoint covers.
      expect(verifiedLeafHash(line, i)).toBeUndefined();
    });

    // Leaf bytes that are not the entry's (one character off), hashed consistently.
    const otherBytes = await streamedLines(db, leavesOf((i) => texts[i]?.replace('"index":', '"index": ')));
    for (const line of otherBytes) expect(verifiedLeafHash(line, rows.length), line).toBeUndefined();

    // The entry's bytes, but a stored hash that is not theirs.
    const wrongHash = await streamedLines(
      db,
      rows.map((row, i) => ({ id: row.id, leaf: Buffer.from(texts[i] ?? '', 'utf8'), hash: leafHashOfText(`${texts[i]} `) })),
    );
    for (const line of wrongHash) expect(verifiedLeafHash(line, rows.length), line).toBeUndefined();

    // The entry's hash, but stored leaf bytes that are not its bytes: the database says they do not hash to it.
    const otherLeaf = await streamedLines(
      db,
      rows.map((row, i) => ({ id: row.id, leaf: Buffer.from(`${texts[i]} `, 'utf8'), hash: leafHashOfText(texts[i] ?? '') })),
    );
    for (const line of otherLeaf) expect(verifiedLeafHash(line, rows.length), line).toBeUndefined();

    // A leaf whose entry row is gone.
    const [gone] = await streamedLines(db, [{ id: 'aud_gone', leaf: Buffer.from(texts[0]!), hash: leafHashOfText(texts[0]!) }]);
    expect(streamedLeafText(gone!)).toBeUndefined();
    expect(verifiedLeafHash(gone!, rows.length)).toBeUndefined();
  });

  it('reads no timestamp printed in another time zone', async () => {
    for (const zone of ['Asia/Kolkata', 'Etc/GMT-1', 'America/New_York']) {
      const lines = await db.transaction(async (tx) => {
        await tx.query(`SET LOCAL TimeZone = '${zone}'`);
        return streamedLines(tx, leavesOf((i) => texts[i]));
      });
      expect(lines).toHaveLength(rows.length);
      for (const line of lines) expect(streamedLeafText(line), `${zone}: ${line}`).toBeUndefined();
    }
  });
});
