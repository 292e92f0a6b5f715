import type { Classification } from '../policy/index.js';
import type { Facets } from './openlineage-event.js';
import { classificationNamed, keptClassification } from './vocabulary.js';

/**
 * The lineage domain an OpenLineage producer declares through the standard `tags` facet
 * (TagsDatasetFacet, TagsJobFacet, TagsRunFacet): a tag `classification` naming a class
 * (`{"key": "classification", "value": "PHI"}`), or a flag `pii` / `phi` / `pci` set to
 * `true` (`{"key": "pii", "value": "true"}`, the spec's own example). A tag on one field
 * classifies the whole dataset: a table with a PHI column is PHI. With several, the most
 * restrictive wins; among the regulated ones, PHI, then PCI, then PII, because one node holds
 * one classification and PHI is the narrowest audience.
 */

const FLAG_KEYS: Record<string, Classification> = { pii: 'PII', phi: 'PHI', pci: 'PCI' };
const REGULATED_PRIORITY: readonly Classification[] = ['PHI', 'PCI', 'PII'];

function tagClass(tag: unknown): Classification | undefined {
  if (typeof tag !== 'object' || tag === null) return undefined;
  const { key, value } = tag as { key?: unknown; value?: unknown };
  if (typeof key !== 'string' || typeof value !== 'string') return undefined;
  const k = key.trim().toLowerCase();
  if (k === 'classification') return classificationNamed(value);
  const flag = FLAG_KEYS[k];
  return flag && value.trim().toLowerCase() === 'true' ? flag : undefined;
}

/** The classification the facets' tags declare, or undefined when they declare none. */
export function declaredClassification(facets: Facets | undefined): Classification | undefined {
  const tags = facets?.tags?.tags;
  if (!Array.isArray(tags)) return undefined;
  const found = tags.map(tagClass).filter((c): c is Classification => c !== undefined);
  const regulated = REGULATED_PRIORITY.find((c) => found.includes(c));
  if (regulated) return regulated;
  return found.reduce<Classification | undefined>((kept, c) => (kept === undefined ? c : keptClassification(kept, c)), undefined);
}
