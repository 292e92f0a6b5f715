import { appendAuditEntry, auditReasonListing, SYSTEM_ACTOR } from '../audit/index.js';
import { existingLinks, externalLinkKey, recordLineage, type CertifiedVersionFacts, type LineageNodeRef } from '../lineage/index.js';
import type { Classification } from '../policy/index.js';
import type { Db, Queryable } from '../store/index.js';

/**
 * A certified version is, to OpenLineage, its dataset in Assay's namespace: what Assay's emitted
 * events and the outside jobs reading the certified Parquet call it. Promotion links each version
 * to that node (`derived`), so an outside job's event naming the dataset merges downstream of it.
 */

/** The audit action of linking versions certified before promotion linked them. */
export const LINK_CERTIFIED_ACTION = 'lineage.link_certified';
/** Versions linked per lineage change (recordLineage takes at most 10,000 nodes and edges). */
const LINKS_PER_CHANGE = 5000;
/** Only one linking at a time, across every server sharing the database. */
const LINK_LOCK_KEY = 0x6c6e6b637274; // "lnkcrt": six bytes, so exact as a JavaScript number

/** The OpenLineage dataset a certified version of `dataset` is, as a lineage edge end. */
export function openLineageDatasetOf(namespace: string, dataset: { name: string; classification: Classification }): LineageNodeRef {
  return { kind: 'dataset', namespace, name: dataset.name, classification: dataset.classification };
}

/**
 * Links every certified version not yet linked to its OpenLineage dataset under `namespace`:
 * versions certified by releases before promotion linked them, or under another
 * `lineage.namespace`. One transaction with a `lineage.link_certified` audit entry (the system
 * acting) when it linked any; answers their ids. Run at server start; repeating it links nothing.
 * Servers starting together on one PostgreSQL database take turns: the second waits for the
 * first to commit and then finds nothing left to link, where it found the versions unlinked,
 * waited on the first's rows, linked nothing, and still recorded an entry saying it linked them.
 */
export async function linkCertifiedVersions(db: Db, namespace: string): Promise<string[]> {
  return db.transaction(async (tx) => {
    // First, at read committed: every statement after it sees what an earlier linking committed.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [LINK_LOCK_KEY]);
    const certified = await tx.query<{ id: string; name: string; version: number; classification: Classification }>(
      `SELECT v.id, d.name, v.version, v.classification FROM dataset_versions v JOIN datasets d ON d.id = v.dataset_id WHERE v.state = 'certified' ORDER BY v.id`,
    );
    const links = certified.rows.map((v) => ({ from: v.id, namespace, name: v.name }));
    const present = await existingLinks(tx, { type: 'derived', links });
    const missing = certified.rows.filter((v, i) => !present.has(externalLinkKey(links[i]!)));
    if (missing.length === 0) return [];
    for (let i = 0; i < missing.length; i += LINKS_PER_CHANGE) {
      const batch = missing.slice(i, i + LINKS_PER_CHANGE);
      await recordLineage(tx, {
        // The version's own node, should an early release not have recorded it.
        nodes: batch.map((v) => ({ id: v.id, type: 'dataset_version' as const, classification: v.classification, name: `${v.name} v${v.version}` })),
        edges: batch.map((v) => ({ from: v.id, to: openLineageDatasetOf(namespace, v), type: 'derived' as const })),
      });
    }
    await appendAuditEntry(tx, {
      actor: SYSTEM_ACTOR,
      action: LINK_CERTIFIED_ACTION,
      resource: { type: 'lineage_namespace', id: namespace },
      decision: { effect: 'allowed', policyIds: [] },
      outcome: 'succeeded',
      reason: auditReasonListing(`${missing.length} certified dataset versions linked to their OpenLineage datasets in namespace ${namespace} (derived edges in the lineage graph): `, missing.map((v) => v.id)),
    });
    return missing.map((v) => v.id);
  });
}

/**
 * The version number and certification time of those of `ids` that are certified dataset
 * versions: what OpenLineage ingest places a run's read of a certified dataset by (the version
 * current at the event's time, or the one it names).
 */
export async function certifiedVersionFacts(db: Queryable, ids: readonly string[]): Promise<Map<string, CertifiedVersionFacts>> {
  if (ids.length === 0) return new Map();
  const r = await db.query<{ id: string; version: number; certified_at: string | Date }>(
    `SELECT id, version, certified_at FROM dataset_versions WHERE id = ANY ($1::text[]) AND state = 'certified' AND certified_at IS NOT NULL`,
    [ids],
  );
  return new Map(r.rows.map((v) => [v.id, { version: Number(v.version), certifiedAt: new Date(v.certified_at).toISOString() }]));
}
