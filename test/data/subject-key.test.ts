import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openSnapshot } from '../../src/data/load.js';
import { subjectHash, subjectKey, subjectLookupHashes, writeSubjectHashes } from '../../src/data/subject-index.js';
import { scratchDuckSuite } from './support.js';

/**
 * A subject id is indexed at ingest (in DuckDB) and looked up by an erasure request (in
 * JavaScript): both must reduce it to the same key, or the subject is never found again.
 */
describe('subject keys', () => {
  const session = scratchDuckSuite('subject-key');

  it('removes exactly what JavaScript trim() strips, at both ends and within, and lower-cases ASCII letters only', () => {
    for (let c = 0; c <= 0xffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const ch = String.fromCharCode(c);
      const padded = `${ch}i${ch}d${ch}`;
      const nfc = padded.normalize('NFC');
      expect(subjectKey(padded), `U+${c.toString(16)}`).toBe(ch.trim() === '' ? 'id' : nfc.replace(/[A-Z]/g, (x) => x.toLowerCase()));
    }
    expect(subjectKey(' Anna@Example.COM\t')).toBe('anna@example.com');
    // An IBAN or a phone number as printed is the one stored compact.
    expect(subjectKey('DE89 3704 0044 0532 0130 00')).toBe('de89370400440532013000');
    expect(subjectKey('+49 30\u00a01234567')).toBe('+49301234567');
    expect(subjectKey('ÉLODIE-7')).toBe('Élodie-7');
    // Decomposed (as macOS file names and some exports write it) or composed: one key, in NFC.
    expect(subjectKey('E\u0301LODIE-7')).toBe('\u00c9lodie-7');
    expect(subjectKey('Zoe\u0308')).toBe(subjectKey('Zo\u00eb'));
  });

  it('DuckDB indexes every id under the hash an erasure request computes for it, padded or not, in any ASCII case', async () => {
    const ids = ['Anna@Example.com', '\tC-1001\t', '\u00a0C-1002', 'C-1003\u3000', '\u2028C-1004', 'ÉLODIE-7', 'c-1005 ', 'C-1005', ' Zoe\u0308-9', '\u212bngstr\u00f6m', 'DE89 3704 0044 0532 0130 00', 'GB29NWBK60161331926819', '+49 30\t1234567', 'Zoë\u00a0Müller', 'C-\u30001006', 'C-\r\n1007'];
    const path = join(session.dir(), 'subjects.csv');
    await writeFile(path, ['id', ...ids.map((id) => `"${id}"`)].join('\n') + '\n');
    const snapshot = await openSnapshot(session.duck(), { path, format: 'csv', csv: { delimiter: ',', header: ['id'] } });
    const salt = randomBytes(32);
    const file = await writeSubjectHashes(session.duck(), { source: snapshot.scan, column: { name: 'id', duckType: 'VARCHAR' }, salt, path: join(session.dir(), 'subjects.txt') });
    const indexed = (await readFile(file.path, 'utf8')).trim().split('\n');
    const asked = ['anna@example.COM', 'c-1001', 'C-1002', ' c-1003', 'C-1004', 'Élodie-7', 'C-1005', 'Zo\u00eb-9', '\u00c5ngstro\u0308m', 'DE89370400440532013000', 'GB29 NWBK 6016 1331 9268 19', '+49301234567', 'zoe\u0308 Mu\u0308ller', 'c-1006', 'c- 1007'];
    // Distinct (c-1005 twice in a case), and sorted: the index takes them in key order.
    expect(indexed).toEqual([...new Set(asked.map((id) => subjectHash(salt, id).toString('hex')))].sort());
    expect(file.count).toBe(indexed.length);
  });

  it('an erasure request also looks up the merely trimmed id, as versions indexed before keys were normalised hold it', () => {
    const salt = randomBytes(32);
    const [current, legacy] = subjectLookupHashes(salt, ' Anna@Example.com ');
    expect(current).toEqual(subjectHash(salt, 'anna@example.com'));
    expect(legacy!.toString('hex')).not.toBe(current!.toString('hex'));
    // An id in NFD is also looked up as it was keyed before keys were NFC-normalised.
    const decomposed = subjectLookupHashes(salt, 'Zoe\u0308').map((h) => h.toString('hex'));
    expect(decomposed[0]).toBe(subjectHash(salt, 'Zo\u00eb').toString('hex'));
    expect(decomposed).toContain(createHash('sha256').update(`${salt.toString('hex')}:zoe\u0308`).digest('hex'));
    // Besides the id as a JSON string (see the JSON Lines test below): nothing more.
    expect(subjectLookupHashes(salt, 'c-1')).toHaveLength(2);
  });

  it('an erasure request also looks up the key with inner white space kept, as versions indexed before inner white space was removed hold it; an IBAN also as printed', () => {
    const salt = randomBytes(32);
    const hex = (text: string): string => createHash('sha256').update(`${salt.toString('hex')}:${text}`).digest('hex');
    const phone = subjectLookupHashes(salt, ' +49 30 1234567').map((h) => h.toString('hex'));
    expect(phone[0]).toBe(subjectHash(salt, '+49301234567').toString('hex'));
    expect(phone).toContain(hex('+49 30 1234567'));
    // Typed decomposed, as the version's key was not (it was in NFC, its inner space kept).
    expect(subjectLookupHashes(salt, 'Zoe\u0308 Mu\u0308ller').map((h) => h.toString('hex'))).toContain(hex('zo\u00eb m\u00fcller'));
    // Typed compact, a phone number cannot be spaced as a file printed it: the limit README states.
    expect(subjectLookupHashes(salt, '+49301234567').map((h) => h.toString('hex'))).not.toContain(hex('+49 30 1234567'));
    // An IBAN in any spacing is also looked up as printed (groups of four), in lower case.
    for (const typed of ['DE89370400440532013000', 'de89 3704 0044 0532 0130 00', 'DE 8937 04004405 32013000']) {
      expect(subjectLookupHashes(salt, typed).map((h) => h.toString('hex')), typed).toContain(hex('de89 3704 0044 0532 0130 00'));
    }
    // Not an id too short to be one (14 characters), nor one that does not start like one.
    expect(subjectLookupHashes(salt, 'de1234567890ab')).toHaveLength(2);
    expect(subjectLookupHashes(salt, 'cust12345678901')).toHaveLength(2);
  });

  it('a JSON Lines key holding string and number ids (a JSON column) indexes each string as itself, not with its quotes', async () => {
    const path = join(session.dir(), 'mixed.jsonl');
    await writeFile(path, '{"cid": "A-77"}\n{"cid": 123}\n{"cid": " B-8 "}\n{"cid": null}\n');
    const snapshot = await openSnapshot(session.duck(), { path, format: 'jsonl' });
    expect(snapshot.columns).toEqual([{ name: 'cid', duckType: 'JSON' }]);
    const salt = randomBytes(32);
    const file = await writeSubjectHashes(session.duck(), { source: snapshot.scan, column: { name: 'cid', duckType: 'JSON' }, salt, path: join(session.dir(), 'mixed.txt') });
    const indexed = (await readFile(file.path, 'utf8')).trim().split('\n');
    expect(indexed).toEqual(['a-77', '123', 'b-8'].map((id) => subjectHash(salt, id).toString('hex')).sort());
    // Versions indexed before held '"a-77"': an erasure request still finds them.
    expect(subjectLookupHashes(salt, 'A-77').map((h) => h.toString('hex'))).toContain(subjectHash(salt, '"a-77"').toString('hex'));
    // Their keys kept inner white space too.
    expect(subjectLookupHashes(salt, 'B 9').map((h) => h.toString('hex'))).toContain(createHash('sha256').update(`${salt.toString('hex')}:"b 9"`).digest('hex'));
  });
});
