import { describe, expect, it } from 'vitest';
import { auditReasonListing, MAX_AUDIT_REASON } from '../../src/audit/index.js';

describe('auditReasonListing', () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `dsv_${String(i).padStart(26, '0')}`);

  it('lists every item when they fit', () => {
    expect(auditReasonListing('found: ', ids(3))).toBe(`found: ${ids(3).join(', ')}`);
    expect(auditReasonListing('found nothing', [])).toBe('found nothing');
  });

  it('ends at a whole item within an entry and says how many it left out', () => {
    const items = ids(200);
    const text = auditReasonListing('200 versions linked: ', items);
    expect(text.length).toBeLessThanOrEqual(MAX_AUDIT_REASON);
    const m = /^200 versions linked: (.*) … and (\d+) more$/.exec(text);
    expect(m).not.toBeNull();
    const shown = m![1]!.split(', ');
    expect(shown).toEqual(items.slice(0, shown.length));
    expect(shown.length + Number(m![2])).toBe(200);
    // As many as fit: one more would not have.
    expect(`200 versions linked: ${items.slice(0, shown.length + 1).join(', ')} … and ${199 - shown.length} more`.length).toBeGreaterThan(MAX_AUDIT_REASON);
  });

  it('with a head that fills the entry, names none and still counts them', () => {
    const text = auditReasonListing('x'.repeat(MAX_AUDIT_REASON - 20), ids(5));
    expect(text).toBe(`${'x'.repeat(MAX_AUDIT_REASON - 20)}… and 5 more`);
  });
});
