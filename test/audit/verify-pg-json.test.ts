import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalFromPgJson } from '../../src/audit/pg-json.js';
import { canonicalJson } from '../../src/core/index.js';
import type { Db } from '../../src/store/index.js';
import { eachBackend, type OpenedDb } from '../support/databases.js';
import { NASTY_STRINGS } from './nasty-strings.js';

// pg-json rewrites PostgreSQL's JSON text into RFC 8785 bytes without parsing it into values.
// Its one promise: whatever it returns for a text is canonicalJson(JSON.parse(text)). These
// check that promise on what PostgreSQL prints (where it must also always answer), and on
// anything else (where it may refuse, but never answer wrongly).

const NASTY = [
  ...NASTY_STRINGS,
  'a, "b": "c"',
  '": ',
  '{"x": [1, 2]}',
];
const KEYS = [...NASTY.filter((k) => !k.includes('\u0000')), 'a', 'a ', 'a!', 'aa', 'B', '__proto__', '10', '2', 'é', '😀', '\uffff'];

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T;
}

/** A JSON value of every kind jsonb holds; strings without NUL, which jsonb refuses. */
function jsonValue(depth: number): unknown {
  switch (randomInt(depth > 3 ? 5 : 7)) {
    case 0:
      return pick(NASTY).replaceAll('\u0000', '');
    case 1:
      return pick([0, -0, 1, -1, 0.1, 1.5, 1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER, -1.5e300, 5e-324]);
    case 2:
      return pick([true, false]);
    case 3:
      return null;
    case 4:
      return `s${randomInt(1000)}`;
    case 5:
      return Array.from({ length: randomInt(4) }, () => jsonValue(depth + 1));
    default:
      return Object.fromEntries(Array.from({ length: randomInt(6) }, () => [pick(KEYS), jsonValue(depth + 1)]));
  }
}

/** What canonicalFromPgJson must return for `text`, when it returns anything. */
function expected(text: string): string | undefined {
  try {
    return canonicalJson(JSON.parse(text));
  } catch {
    return undefined;
  }
}

describe('canonicalFromPgJson', () => {
  it('rewrites what PostgreSQL prints into RFC 8785', () => {
    const cases: Array<[string, string]> = [
      ['{"kind": "human", "principalId": "p", "authenticatedBy": "api_token"}', '{"authenticatedBy":"api_token","kind":"human","principalId":"p"}'],
      ['{"id": "ds_1", "type": "dataset"}', '{"id":"ds_1","type":"dataset"}'],
      ['{"effect": "allowed", "policyIds": ["b", "a"]}', '{"effect":"allowed","policyIds":["b","a"]}'],
      ['[{"name": "n", "sha256": "ab"}, {}, []]', '[{"name":"n","sha256":"ab"},{},[]]'],
      ['{"a": 1.50, "b": -0, "c": 100000000000000000000000, "d": 0.000001}', '{"a":1.5,"b":0,"c":1e+23,"d":0.000001}'],
      ['{"a!": 1, "a ": 2, "a": 3, "B": 4, "é": 5, "😀": 6, "\uffff": 7}', '{"B":4,"a":3,"a ":2,"a!":1,"é":5,"😀":6,"\uffff":7}'],
      ['["a\\tb", null, "é\\"\\\\", "\\u0001"]', '["a\\tb",null,"é\\"\\\\","\\u0001"]'],
      ['{"\\u0041": true, "B": false, "\\"": null}', '{"\\"":null,"A":true,"B":false}'],
      ['"\\u00e9\\/"', '"é/"'],
      ['null', 'null'],
      ['{}', '{}'],
    ];
    for (const [text, canonical] of cases) {
      expect(canonicalFromPgJson(text), text).toBe(canonical);
      expect(canonical, text).toBe(expected(text));
    }
  });

  it('refuses what is not JSON, not in the form PostgreSQL prints, or has no RFC 8785 form', () => {
    const refused = [
      '{"a": 1, "a": 2}', // duplicate key: JSON.parse keeps the last
      '{"\\u0061": 1, "a": 2}', // the same key, escaped once
      '1e400',
      '-1e400',
      '[1, 2,]',
      '{"a" : 1}',
      '{"a":  1}',
      ' {}',
      '{} x',
      '"unterminated',
      '"bad \\x escape"',
      '"raw \u0001 control"',
      '"raw \t tab"',
      '"escaped lone \\ud800 surrogate"',
      '"raw lone \ud800 surrogate"',
      '{"lone \\udc00 key": 1}',
      '01',
      '+1',
      '.5',
      'tru',
      'nul',
      '{"a": 1',
      '[',
      '',
      `${'['.repeat(40)}${']'.repeat(40)}`,
    ];
    for (const text of refused) expect(canonicalFromPgJson(text), text).toBeUndefined();
  });

  it('never answers wrongly for texts that are almost JSON (20,000 random mutations)', () => {
    const alphabet = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'a', '0', '-', '.', 'e', 'u', 'n', '\t', 'é', '\ud83d', '\ude00'];
    let answered = 0;
    for (let i = 0; i < 20_000; i++) {
      let text = JSON.stringify(jsonValue(0)).replaceAll(',', ', ').replaceAll('":', '": ');
      for (let n = 1 + randomInt(3); n > 0; n--) {
        const at = randomInt(text.length + 1);
        const op = randomInt(3);
        const c = pick(alphabet);
        text = op === 0 ? text.slice(0, at) + c + text.slice(at) : op === 1 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + c + text.slice(at + 1);
      }
      const got = canonicalFromPgJson(text);
      if (got === undefined) continue;
      answered++;
      expect(got, JSON.stringify(text)).toBe(expected(text));
    }
    expect(answered).toBeGreaterThan(1000);
  });
});

describe.each(eachBackend().map((b) => [b.name, b] as const))('canonicalFromPgJson on jsonb as %s prints it', (_name, backend) => {
  let opened: OpenedDb;
  let db: Db;
  beforeAll(async () => {
    opened = await backend.open();
    db = opened.db;
  });
  afterAll(async () => opened?.cleanup());

  it('always answers, and answers canonicalJson of the value, on 3000 random values', async () => {
    const values = Array.from({ length: 3000 }, () => JSON.stringify(jsonValue(0)));
    const r = await db.query<{ n: number; text: string }>('SELECT n::int AS n, v::jsonb::text AS text FROM unnest($1::text[]) WITH ORDINALITY AS u(v, n)', [values]);
    expect(r.rows).toHaveLength(values.length);
    for (const { n, text } of r.rows) {
      const value: unknown = JSON.parse(values[n - 1] as string);
      expect(canonicalFromPgJson(text), text).toBe(canonicalJson(value));
    }
  });

  it('reads json arrays of text as to_json prints them', async () => {
    const strings = [...NASTY.map((s) => s.replaceAll('\u0000', '')), null];
    const r = await db.query<{ text: string }>('SELECT to_json($1::text[])::text AS text', [strings]);
    expect(canonicalFromPgJson(r.rows[0]!.text)).toBe(canonicalJson(strings));
  });
});
