import { z } from 'zod';
import { Conflict, ValidationFailed, type FieldIssue } from '../core/index.js';
import { CLASSIFICATIONS } from '../policy/index.js';
import type { Tx } from '../store/index.js';
import { inheritJobClassification, insertEdges, nodesById, upsertAssayNodes, upsertExternalNodes, type StoredNode } from './graph-store.js';
import { MAX_NAME_BYTES, MAX_NAMESPACE_BYTES } from './openlineage-validation.js';
import { ASSAY_NODE_TYPES, EDGE_RULES, EDGE_TYPES, edgeAllowed, EXTERNAL_KINDS, type ExternalKind } from './vocabulary.js';

/**
 * How other modules put Assay's own objects into the lineage graph: `recordLineage(tx, change)`
 * inside the transaction of the change it describes (a dataset version promoted from a raw
 * snapshot, a run that read two dataset versions and produced a model version…).
 */

const assayId = z.string().regex(/^[a-z][a-z0-9]{0,9}_[0-9A-Za-z]{1,100}$/, 'must be an Assay id such as dsv_01J…');
const bytes = (max: number) => z.string().refine((s) => Buffer.byteLength(s) >= 1 && Buffer.byteLength(s) <= max, `must be 1 to ${max} bytes`);

const nodeSchema = z.strictObject({
  id: assayId,
  type: z.enum(ASSAY_NODE_TYPES),
  /** The object's data classification: its lineage domain. */
  classification: z.enum(CLASSIFICATIONS),
  /** A label shown with the node, e.g. the dataset's name. */
  name: bytes(MAX_NAME_BYTES).optional(),
  /** Small facts worth seeing in the graph (never payloads or personal data). */
  attributes: z.record(z.string(), z.unknown()).optional(),
});

/** An OpenLineage dataset or job outside Assay, created (as `internal`, unless given) if not yet known. */
const externalRef = z.strictObject({
  kind: z.enum(Object.keys(EXTERNAL_KINDS) as [ExternalKind, ...ExternalKind[]]),
  namespace: bytes(MAX_NAMESPACE_BYTES),
  name: bytes(MAX_NAME_BYTES),
  classification: z.enum(CLASSIFICATIONS).optional(),
});

const nodeRef = z.union([assayId, externalRef]);

const changeSchema = z.strictObject({
  nodes: z.array(nodeSchema).max(10_000).default([]),
  edges: z
    .array(z.strictObject({ from: nodeRef, to: nodeRef, type: z.enum(EDGE_TYPES) }))
    .max(10_000)
    .default([]),
});

/** What `recordLineage` takes. */
export type LineageChange = z.input<typeof changeSchema>;
/** One Assay object node. */
export type LineageNodeInput = z.input<typeof nodeSchema>;
/** An edge end: an Assay id, or an OpenLineage dataset or job by namespace and name. */
export type LineageNodeRef = z.input<typeof nodeRef>;

const refKey = (r: z.output<typeof nodeRef>): string =>
  typeof r === 'string' ? r : `${EXTERNAL_KINDS[r.kind]}\u0000${r.namespace}\u0000${r.name}`;

function invalid(issues: FieldIssue[]): ValidationFailed {
  return new ValidationFailed(`invalid lineage change: ${issues.map((i) => i.field).join(', ')}`, issues);
}

/**
 * Records Assay objects and the edges between them (or to OpenLineage datasets and jobs) in
 * the caller's transaction. Repeating a change is harmless: nodes merge (the classification
 * only rises; a run's is at least its job's) and an edge is stored once. Throws ValidationFailed naming `nodes.N.…` /
 * `edges.N.…` for a malformed change, an edge whose types the edge type does not join, or an
 * edge to an Assay id that is neither in the change nor already recorded; Conflict when an id
 * is already recorded with another type. It writes no audit entry of its own: the caller's
 * entry for the change (`dataset.promote`, `run.complete`…) is the evidence, in the same
 * transaction.
 */
export async function recordLineage(tx: Tx, change: LineageChange): Promise<void> {
  const parsed = changeSchema.safeParse(change);
  if (!parsed.success) throw invalid(parsed.error.issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message })));
  const { nodes, edges } = parsed.data;

  const byId = new Map(nodes.map((n) => [n.id, n]));
  if (byId.size !== nodes.length) throw invalid([{ field: 'nodes', message: 'lists an id twice' }]);
  const stored = await upsertAssayNodes(
    tx,
    [...byId.values()].map((n) => ({ id: n.id, type: n.type, classification: n.classification, name: n.name ?? null, attributes: n.attributes ?? {} })),
  );
  const mismatched = nodes.filter((n) => !stored.has(n.id));
  if (mismatched.length > 0) throw new Conflict(`lineage nodes ${mismatched.map((n) => n.id).join(', ')} are already recorded with another type`);

  const ids = edges.flatMap((e) => [e.from, e.to]).filter((r): r is string => typeof r === 'string' && !stored.has(r));
  for (const [id, node] of await nodesById(tx, [...new Set(ids)])) stored.set(id, node);
  const externals = edges.flatMap((e) => [e.from, e.to]).filter((r) => typeof r !== 'string');
  const external = await upsertExternalNodes(
    tx,
    [...new Map(externals.map((r) => [refKey(r), r])).values()].map((r) => ({
      type: EXTERNAL_KINDS[r.kind],
      namespace: r.namespace,
      name: r.name,
      classification: r.classification,
      facets: {},
      deleted: [],
      attributes: {},
    })),
  );
  const resolve = (r: z.output<typeof nodeRef>): StoredNode | undefined => (typeof r === 'string' ? stored.get(r) : external.get(refKey(r)));

  const issues: FieldIssue[] = [];
  const rows = edges.flatMap((e, i) => {
    const from = resolve(e.from);
    const to = resolve(e.to);
    if (!from) issues.push({ field: `edges.${i}.from`, message: `no lineage node ${String(e.from)}` });
    if (!to) issues.push({ field: `edges.${i}.to`, message: `no lineage node ${String(e.to)}` });
    if (!from || !to) return [];
    if (from.key === to.key) issues.push({ field: `edges.${i}.to`, message: 'an edge joins two different nodes' });
    else if (!edgeAllowed(e.type, from.type, to.type)) {
      const rule = EDGE_RULES[e.type];
      issues.push({ field: `edges.${i}.type`, message: `${e.type} goes from ${rule.from.join('|')} to ${rule.to.join('|')}, not ${from.type} to ${to.type}` });
    }
    return [{ src: from.key, dst: to.key, type: e.type, facets: {} }];
  });
  if (issues.length > 0) throw invalid(issues);
  await insertEdges(tx, [...new Map(rows.map((r) => [`${r.src}:${r.dst}:${r.type}`, r])).values()]);
  const written = [...stored.values(), ...external.values()];
  await inheritJobClassification(tx, { nodes: written.map((n) => n.key), raised: written.filter((n) => n.raised).map((n) => n.key) });
}
