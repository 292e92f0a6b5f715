import { CLASSIFICATIONS, type Classification } from '../policy/index.js';
import { classificationNamed, REGULATED } from './vocabulary.js';

/**
 * Lineage domains: a node's classification decides who sees it in a graph answer. This is the
 * rule of the default pack's `data.clearance-for-sensitive`, applied node by node: PII, PHI and
 * PCI need the matching clearance; public, internal and confidential nodes are seen by everyone
 * the policy lets read the graph at all; a break-glass principal under an active elevation is
 * exempt (the audited emergency path).
 */

/** Who is looking, as far as lineage domains care. */
export interface LineageViewer {
  /** The principal's clearances in any letter case (`phi` as identity spells it, or `PHI`). */
  clearance: readonly string[];
  /** Holds `break-glass` and is under an elevation in force. */
  elevatedBreakGlass: boolean;
}

/** The classifications whose nodes `viewer` may see. */
export function visibleClassifications(viewer: LineageViewer): Classification[] {
  if (viewer.elevatedBreakGlass) return [...CLASSIFICATIONS];
  const cleared = new Set(viewer.clearance.map(classificationNamed));
  return CLASSIFICATIONS.filter((c) => !REGULATED.includes(c) || cleared.has(c));
}

/** The viewer of an authenticated principal: its clearance attribute and its elevation. */
export function lineageViewerOf(p: { roles: readonly string[]; attributes: { clearance?: readonly string[] }; elevation?: unknown }): LineageViewer {
  return { clearance: p.attributes.clearance ?? [], elevatedBreakGlass: p.elevation !== undefined && p.roles.includes('break-glass') };
}
