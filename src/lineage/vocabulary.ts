import { CLASSIFICATIONS, type Classification } from '../policy/index.js';

/**
 * The lineage graph's closed vocabularies: what a node can be, how two nodes can be linked,
 * and how lineage domains (classifications) compare. The database repeats each list as a CHECK.
 */

/** Assay's own objects, known by their Assay id. */
export const ASSAY_NODE_TYPES = ['raw_snapshot', 'dataset_version', 'job', 'run', 'model_version', 'deployment', 'inference'] as const;
/** An Assay object's node type. */
export type AssayNodeType = (typeof ASSAY_NODE_TYPES)[number];

/** OpenLineage datasets, jobs and runs reported from outside, known by namespace and name. */
export const EXTERNAL_NODE_TYPES = ['external_dataset', 'external_job', 'external_run'] as const;
/** An external node's type. */
export type ExternalNodeType = (typeof EXTERNAL_NODE_TYPES)[number];

/** Every node type. */
export const NODE_TYPES = [...ASSAY_NODE_TYPES, ...EXTERNAL_NODE_TYPES] as const;
/** A node type. */
export type NodeType = (typeof NODE_TYPES)[number];

/** What `GET /lineage/graph?kind=` names: an OpenLineage dataset or job. */
export const EXTERNAL_KINDS = { dataset: 'external_dataset', job: 'external_job' } as const;
/** An OpenLineage kind a caller can look up by namespace and name. */
export type ExternalKind = keyof typeof EXTERNAL_KINDS;

/** Edge types. Every edge points downstream: from where data (or control) comes, to where it goes. */
export const EDGE_TYPES = ['promoted', 'derived', 'input', 'output', 'run_of', 'parent', 'deployed', 'served'] as const;
/** An edge type. */
export type EdgeType = (typeof EDGE_TYPES)[number];

const DATA: readonly NodeType[] = ['raw_snapshot', 'dataset_version', 'external_dataset'];
const PROCESS: readonly NodeType[] = ['job', 'run', 'external_job', 'external_run'];
const RUNS: readonly NodeType[] = ['run', 'external_run'];

/**
 * Which node types each edge type may join (from → to). A lineage graph that says a deployment
 * was promoted into a raw snapshot would mislead whoever traces it, so nonsense is refused.
 */
export const EDGE_RULES: Record<EdgeType, { from: readonly NodeType[]; to: readonly NodeType[]; meaning: string }> = {
  promoted: { from: ['raw_snapshot'], to: ['dataset_version'], meaning: 'a raw snapshot became (part of) a dataset version' },
  derived: { from: DATA, to: ['dataset_version', 'external_dataset'], meaning: 'a dataset was derived from another without a recorded run' },
  input: { from: [...DATA, 'model_version'], to: PROCESS, meaning: 'a job or run read this' },
  output: { from: PROCESS, to: ['dataset_version', 'external_dataset', 'model_version'], meaning: 'a job or run wrote this' },
  run_of: { from: ['job', 'external_job'], to: RUNS, meaning: 'a job executed as this run' },
  parent: { from: RUNS, to: RUNS, meaning: 'a run started this run (OpenLineage ParentRunFacet)' },
  deployed: { from: ['model_version'], to: ['deployment'], meaning: 'a model version is served by this deployment' },
  served: { from: ['deployment'], to: ['inference'], meaning: 'a deployment answered this inference' },
};

/** Whether an edge of `type` may go from a node of type `from` to one of type `to`. */
export function edgeAllowed(type: EdgeType, from: NodeType, to: NodeType): boolean {
  const rule = EDGE_RULES[type];
  return rule.from.includes(from) && rule.to.includes(to);
}

/** Classifications that need a matching clearance (policy `data.clearance-for-sensitive`). */
export const REGULATED: readonly Classification[] = ['PII', 'PHI', 'PCI'];

/** public < internal < confidential < the regulated ones, which are not ordered among themselves. */
const RANK: Record<Classification, number> = { public: 0, internal: 1, confidential: 2, PII: 3, PHI: 3, PCI: 3 };

/**
 * The classification a node keeps when it is reported again as `next`: the more restrictive of
 * the two, and the first one on a tie. A later report can therefore never move a node out of
 * a lineage domain (PHI → public, or PHI → PII) and show it to someone not cleared for it.
 */
export function keptClassification(current: Classification, next: Classification | undefined): Classification {
  return next !== undefined && RANK[next] > RANK[current] ? next : current;
}

/**
 * Whether data classified `derived` may hold what was built from data classified `input`: the
 * same classification, or a strictly more restrictive one. The regulated ones are not ordered
 * among themselves (PHI clearance is no PII clearance), so PII data feeds only PII data.
 */
export function atLeastAsRestrictive(derived: Classification, input: Classification): boolean {
  return derived === input || RANK[derived] > RANK[input];
}

/** The same rule in SQL, for upserts: `$current` and `$next` are column expressions. */
export function keptClassificationSql(current: string, next: string): string {
  const rank = (c: string): string => `(CASE ${c} WHEN 'public' THEN 0 WHEN 'internal' THEN 1 WHEN 'confidential' THEN 2 ELSE 3 END)`;
  return `(CASE WHEN ${next} IS NOT NULL AND ${rank(next)} > ${rank(current)} THEN ${next} ELSE ${current} END)`;
}

/**
 * How narrow each classification's audience is, for a node that is part of another and must
 * be hidden wherever the other is (a run of its job). Among the regulated ones PHI, then PCI,
 * then PII: the order `declaredClassification` takes for several tags on one node. One node
 * holds one class, so a run tagged PHI of a PII job stays PHI (see the README's lineage).
 */
const NARROWNESS: Record<Classification, number> = { public: 0, internal: 1, confidential: 2, PII: 3, PCI: 4, PHI: 5 };

/** A classification's narrowness in SQL (higher is narrower): `c` is a column expression. */
export function narrownessSql(c: string): string {
  const cases = Object.entries(NARROWNESS).map(([name, n]) => `WHEN '${name}' THEN ${n}`).join(' ');
  return `(CASE ${c} ${cases} END)`;
}

const BY_LOWER = new Map<string, Classification>(CLASSIFICATIONS.map((c) => [c.toLowerCase(), c]));

/** A classification named in any letter case (`phi`, `PHI`), or undefined. */
export function classificationNamed(value: string): Classification | undefined {
  return BY_LOWER.get(value.trim().toLowerCase());
}

/** The node classification given to external nodes nobody classified. */
export const DEFAULT_EXTERNAL_CLASSIFICATION: Classification = 'internal';

/**
 * Where each run state comes in a run: START, then RUNNING, then an end state (COMPLETE, ABORT,
 * FAIL). Of two states reported for the same `stateAt` (the millisecond it is kept to: events a
 * few microseconds apart share it) the later stage is kept, whichever arrived last.
 */
const RUN_STAGE: Readonly<Record<string, number>> = { START: 0, RUNNING: 1, COMPLETE: 2, ABORT: 2, FAIL: 2 };

/** The run states, OpenLineage event types that move a run's state (OTHER does not). */
export const RUN_STATES: ReadonlySet<string> = new Set(Object.keys(RUN_STAGE));

/** Whether a run state reported at `next.stateAt` replaces the one held (`current`): later, or as late and no earlier a stage. */
export function replacesRunState(current: Record<string, unknown>, next: Record<string, unknown>): boolean {
  const at = String(next.stateAt ?? '');
  const held = String(current.stateAt ?? '');
  if (at !== held) return at > held;
  return (RUN_STAGE[String(next.state)] ?? 0) >= (RUN_STAGE[String(current.state)] ?? 0);
}

/** The same rule in SQL: `current` and `next` are jsonb attribute expressions, both holding `stateAt`. */
export function replacesRunStateSql(current: string, next: string): string {
  const stage = (a: string): string => `(CASE ${a} ->> 'state' ${Object.entries(RUN_STAGE).map(([s, n]) => `WHEN '${s}' THEN ${n}`).join(' ')} ELSE 0 END)`;
  return `((${next} ->> 'stateAt', ${stage(next)}) >= (${current} ->> 'stateAt', ${stage(current)}))`;
}
