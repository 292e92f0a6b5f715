import { appendAuditEntry, auditReasonListing } from '../audit/index.js';
import { Forbidden, hashCanonical, newId, ValidationFailed, type FieldIssue } from '../core/index.js';
import { recordRefusal, type ChangeContext } from '../identity/index.js';
import type { Classification } from '../policy/index.js';
import type { Db, Tx } from '../store/index.js';
import { certifiedVersionsRead, type CertifiedVersionLookup } from './certified-reads.js';
import { inheritJobClassification, insertEdges, nodesById, upsertExternalNodes, type StoredNode } from './graph-store.js';
import type { Facets, OpenLineageEvent } from './openlineage-event.js';
import { graphChangeOf, normalRunId } from './openlineage-merge.js';
import type { EventKind } from './openlineage-schemas.js';
import type { EdgeType } from './vocabulary.js';
import { checkOpenLineageEvent } from './openlineage-validation.js';
import { certifiedOutputsLeftOut, declarationsBeyondClearance, standingOf, withinClearance, writesToAssayLineage, type SenderScope } from './sender-clearance.js';

/**
 * OpenLineage in: `POST /api/v1/lineage` like Marquez. A request holds one event or an array;
 * every event is checked against the official schemas first, and only when all pass does one
 * transaction merge them into the lineage graph, store each as sent, and record the audit
 * entry. A batch is therefore all or nothing.
 */

/** Most events one request may carry, so one transaction stays short. */
export const MAX_EVENTS_PER_REQUEST = 1000;
/** Bad fields reported per request. */
const MAX_ISSUES = 20;
/** The rule refusing a tag beyond the sender's clearance (the default pack's, applied per node). */
const CLEARANCE_POLICY = 'data.clearance-for-sensitive';
/** The rule refusing an outside write to Assay's lineage: a dataset in its namespace or certified, a job or parent job in its namespace. */
const ASSAY_DATASET_WRITE_POLICY = 'lineage:assay-datasets-written-by-assay';
/** Re-runs of the transaction after a deadlock with a concurrent ingest touching the same nodes. */
const DEADLOCK_RETRIES = 3;

/** What was accepted. */
export interface IngestReceipt {
  received: number;
  /** The stored events' ids, in the order sent. */
  eventIds: string[];
  /** The `lineage.events.ingest` audit entry. */
  auditEntryId: string;
}

interface CheckedEvent {
  kind: EventKind;
  event: OpenLineageEvent;
  sha256: string;
  /** Where the event sits in the body, as field paths name it: `body` or `body.<index>`. */
  at: string;
}

/** Who sends events: the change context and the lineage domains the sender may see (`visibleClassifications`). */
export interface OpenLineageSender {
  ctx: ChangeContext;
  visible: readonly Classification[];
}

/** Where events land: the database, and Assay's own lineage namespace (`config.lineage.namespace`), which outside senders only read. */
export interface OpenLineageTarget {
  db: Db;
  assayNamespace: string;
  /** When each certified dataset version was certified (the data module's `certifiedVersionFacts`): a run reading one of Assay's datasets is linked to the version it read (`certified-reads.ts`). */
  certifiedVersions: CertifiedVersionLookup;
}

/**
 * Checks every event; throws ValidationFailed naming each bad field as `body.<path>` (one
 * event) or `body.<index>.<path>` (an array).
 */
function checkAll(body: unknown): CheckedEvent[] {
  const many = Array.isArray(body);
  const list: unknown[] = many ? body : [body];
  if (list.length === 0) throw new ValidationFailed('no events: send one event or a non-empty array', [{ field: 'body', message: 'must hold at least one event' }]);
  if (list.length > MAX_EVENTS_PER_REQUEST) {
    throw new ValidationFailed(`too many events in one request`, [{ field: 'body', message: `must hold at most ${MAX_EVENTS_PER_REQUEST} events` }]);
  }
  const issues: FieldIssue[] = [];
  const checked: CheckedEvent[] = [];
  list.forEach((value, i) => {
    const at = many ? `body.${i}` : 'body';
    const r = checkOpenLineageEvent(value, at);
    if (r.ok) checked.push({ kind: r.kind, event: r.event, sha256: hashCanonical(value), at });
    else issues.push(...r.issues);
  });
  if (issues.length > 0) {
    const shown = issues.slice(0, MAX_ISSUES);
    throw new ValidationFailed(`invalid OpenLineage event: ${shown.map((i) => i.field).join(', ')}`, shown);
  }
  return checked;
}

const nodeRef = (m: Map<string, StoredNode>, key: string): StoredNode => {
  const n = m.get(key);
  if (!n) throw new Error(`lineage node ${key.replaceAll('\u0000', ' ')} was not written`);
  return n;
};

/** A refusal decided inside the transaction, thrown to roll it back and recorded after. */
class RefusedWrite extends Error {
  constructor(
    readonly policyId: string,
    readonly issues: FieldIssue[],
  ) {
    super('refused');
  }
}

/** Merges the events into the graph as the sender may change it (`sender-clearance.ts`); throws RefusedWrite. */
async function mergeIntoGraph(tx: Tx, checked: readonly CheckedEvent[], into: { scope: SenderScope; certifiedVersions: CertifiedVersionLookup }): Promise<void> {
  const { scope } = into;
  const change = graphChangeOf(checked);
  const changed = [...change.nodes.values()].sort((a, b) => (a.type + a.namespace + a.name < b.type + b.namespace + b.name ? -1 : 1));
  const standing = await standingOf(tx, changed);
  const assayWrites = writesToAssayLineage(checked, standing, scope);
  if (assayWrites.length > 0) throw new RefusedWrite(ASSAY_DATASET_WRITE_POLICY, assayWrites);
  const nodes = withinClearance({ nodes: changed, edges: change.edges.values() }, standing, scope);
  const stored = await upsertExternalNodes(tx, nodes);
  const kept = certifiedOutputsLeftOut(change.edges.values(), standing);
  // A read of one of Assay's datasets comes from the certified version read, not from the dataset.
  const read = await certifiedVersionsRead(tx, { nodes: change.nodes, edges: kept, standing }, into.certifiedVersions);
  const versions = await nodesById(tx, [...new Set(read.values())]);
  // Keyed by the stored edge: a run reading a version under two namespaces (Assay's current and an
  // earlier one) reads it once, and one statement may not write one edge twice.
  const edges = new Map<string, { src: number; dst: number; type: EdgeType; facets: Facets }>();
  kept.forEach((e, i) => {
    const version = read.get(i);
    const src = (version !== undefined ? versions.get(version)?.key : undefined) ?? nodeRef(stored, e.from).key;
    const dst = nodeRef(stored, e.to).key;
    const key = `${src}:${dst}:${e.type}`;
    const same = edges.get(key);
    if (same) Object.assign(same.facets, e.facets);
    else edges.set(key, { src, dst, type: e.type, facets: { ...e.facets } });
  });
  await insertEdges(tx, [...edges.values()]);
  const written = [...stored.values()];
  await inheritJobClassification(tx, { nodes: written.map((n) => n.key), raised: written.filter((n) => n.raised).map((n) => n.key) });
}

/**
 * What the `lineage.events.ingest` entry names as `events sha256:`: the SHA-256 of the RFC 8785
 * canonical JSON array of the events' own SHA-256 (lowercase hex), in the order sent.
 */
export function eventsSha256(eventHashes: readonly string[]): string {
  return hashCanonical(eventHashes);
}

/** One line per event for the audit reason: kind, state and what it is about. */
function describe(c: CheckedEvent): string {
  const e = c.event;
  const subject = e.job ? `${e.job.namespace} ${e.job.name}` : e.dataset ? `${e.dataset.namespace} ${e.dataset.name}` : '';
  return [c.kind, e.eventType, subject].filter(Boolean).join(' ');
}

async function storeEvents(tx: Tx, input: { checked: readonly CheckedEvent[]; ids: readonly string[]; auditEntryId: string; ctx: ChangeContext; receivedAt: string }): Promise<void> {
  const rows = input.checked.map((c, i) => ({
    id: input.ids[i],
    kind: c.kind,
    event_type: c.event.eventType ?? null,
    event_time: new Date(c.event.eventTime).toISOString(),
    producer: c.event.producer,
    run_id: c.event.run ? normalRunId(c.event.run.runId) : null,
    job_namespace: c.event.job?.namespace ?? null,
    job_name: c.event.job?.name ?? null,
    dataset_namespace: c.event.dataset?.namespace ?? null,
    dataset_name: c.event.dataset?.name ?? null,
    sha256: c.sha256,
    event: c.event,
  }));
  await tx.query(
    `INSERT INTO lineage_events (id, received_at, kind, event_type, event_time, producer, run_id, job_namespace, job_name,
                                 dataset_namespace, dataset_name, sha256, event, principal_id, audit_entry_id, request_id)
     SELECT r.id, $2::timestamptz, r.kind, r.event_type, r.event_time, r.producer, r.run_id, r.job_namespace, r.job_name,
            r.dataset_namespace, r.dataset_name, r.sha256, r.event, $3, $4, $5
       FROM jsonb_to_recordset($1::jsonb) AS r(id text, kind text, event_type text, event_time timestamptz, producer text, run_id text,
            job_namespace text, job_name text, dataset_namespace text, dataset_name text, sha256 text, event jsonb)`,
    [JSON.stringify(rows), input.receivedAt, input.ctx.actor.principalId, input.auditEntryId, input.ctx.requestId ?? null],
  );
}

/** Records the refusal (`access.deny`, its own transaction) and answers the error to throw: 403 naming each field. */
async function refused(db: Db, sender: OpenLineageSender, r: RefusedWrite): Promise<Forbidden> {
  const shown = r.issues.slice(0, MAX_ISSUES);
  const reason = `OpenLineage events refused: ${shown.map((i) => `${i.field} ${i.message}`).join('; ')}`;
  await recordRefusal(db, {
    actor: sender.ctx.actor,
    action: 'access.deny',
    resource: { type: 'lineage_events', id: 'ingest' },
    policyId: r.policyId,
    reason,
    ...(sender.ctx.requestId ? { requestId: sender.ctx.requestId } : {}),
  });
  return new Forbidden(reason, shown);
}

/**
 * Accepts one OpenLineage event or an array of them (the request body as sent): validates
 * every event against the official schemas, holds them to what the sender may change
 * (`sender-clearance.ts`), then in one transaction merges them into the lineage graph, appends
 * the `lineage.events.ingest` audit entry (its reason names each event and the SHA-256 of each
 * event's canonical JSON) and stores every event as sent, pointing at that entry. Throws
 * ValidationFailed when any event is invalid and Forbidden (audited `access.deny`) when it
 * declares a domain beyond the sender's clearance or writes one of Assay's datasets (in its
 * lineage namespace, or certified); nothing of the request is written then.
 */
export async function ingestOpenLineage(target: OpenLineageTarget, body: unknown, sender: OpenLineageSender): Promise<IngestReceipt> {
  const { db, assayNamespace } = target;
  const { ctx } = sender;
  const checked = checkAll(body);
  const beyond = declarationsBeyondClearance(checked, sender.visible);
  if (beyond.length > 0) throw await refused(db, sender, new RefusedWrite(CLEARANCE_POLICY, beyond));
  const receivedAt = (ctx.now ?? new Date()).toISOString();
  try {
    return await db.transaction(
      async (tx) => {
        const ids = checked.map(() => newId('lev'));
        await mergeIntoGraph(tx, checked, { scope: { visible: sender.visible, assayNamespace }, certifiedVersions: target.certifiedVersions });
        // The entry holds 2000 characters, some 20 events' lines: the digest of every event's
        // hash, in the order sent, comes first, so the log vouches for each event of a batch of
        // 1000 as well (recomputed from lineage_events in id order).
        const digest = eventsSha256(checked.map((c) => c.sha256));
        const entry = await appendAuditEntry(tx, {
          actor: ctx.actor,
          action: 'lineage.events.ingest',
          resource: { type: 'lineage_events', id: ids[0]! },
          decision: { effect: 'allowed', policyIds: [] },
          outcome: 'succeeded',
          reason: auditReasonListing(
            `${checked.length} OpenLineage event${checked.length === 1 ? '' : 's'} ${ids[0]}${ids.length > 1 ? `…${ids.at(-1)}` : ''}, events sha256:${digest}: `,
            checked.map((c) => `${describe(c)} sha256:${c.sha256}`),
            '; ',
          ),
          ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
        });
        await storeEvents(tx, { checked, ids, auditEntryId: entry.id, ctx, receivedAt });
        return { received: checked.length, eventIds: ids, auditEntryId: entry.id };
      },
      { retries: DEADLOCK_RETRIES },
    );
  } catch (err) {
    if (err instanceof RefusedWrite) throw await refused(db, sender, err);
    throw err;
  }
}
