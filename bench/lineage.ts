/**
 * Lineage traversal latency: upstream and downstream walks of depth 10 from many random start
 * nodes, on a generated graph of 1M nodes and 5M edges in PostgreSQL (and a smaller one in
 * PGlite), against named baselines measured in the same run on the same start nodes.
 *
 *   npx tsx bench/lineage.ts [--nodes N] [--pglite-nodes N] [--samples S] [--baseline-samples S]
 *                            (defaults 1000000, 100000, 1000, 200; --pglite-nodes 0 skips PGlite)
 *
 * The graph is loaded into the product's own tables (migration 0006) through SQL run on the
 * server (INSERT … SELECT generate_series, one statement per layer); the edge indexes and
 * foreign keys are built after the load, as pg_restore does. What is measured is the product
 * function `lineageGraph` (the walk the API answers with, classification filtering included),
 * end to end through the `Db` driver. Baselines, on the same start nodes: a breadth-first walk
 * with one query per step (frontier batching), one with a query per node, and the textbook
 * path-tracking recursive CTE.
 * PostgreSQL: a temporary database on ASSAY_TEST_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards.
 * Prints a table and writes bench/results/lineage.json. No test asserts these times.
 */
import { writeFile, mkdir } from 'node:fs/promises';
import { cpus, platform, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { lineageGraph, visibleClassifications, type Direction } from '../src/lineage/index.js';
import { CLASSIFICATIONS } from '../src/policy/index.js';
import { createPgliteDb, migrate, type Db } from '../src/store/index.js';
import { openTestPostgresDb } from '../test/support/databases.js';
import { seconds, serverSettings, type ServerSettings } from './support.js';

const here = dirname(fileURLToPath(import.meta.url));
const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const DEPTH = 10;
const TARGET_P99_MS = 50;

// ── The generated graph ────────────────────────────────────────────────────────────────────

/** Layers of the pipeline, upstream first: what each node of a layer is. */
const LAYERS = [
  'raw_snapshot', // ingested files
  'dataset_version', // certified versions
  'run', // feature jobs
  'dataset_version', // feature tables
  'run',
  'dataset_version',
  'external_run', // Spark jobs reported over OpenLineage
  'external_dataset',
  'external_run', // dbt models
  'external_dataset',
  'run', // Assay jobs reading the warehouse
  'dataset_version',
  'run',
  'dataset_version', // training sets
  'run', // training runs
  'model_version',
  'run', // fine-tuning / evaluation
  'model_version',
  'deployment',
  'inference',
] as const;
/** Pipelines per domain (a team's band of related pipelines); walks stay inside one domain. */
const DOMAIN_WIDTH = 500;
/** Parents per node in the layer above, chosen among the ±3 nearest pipelines of its domain. */
const FAN_IN = 5;
/** Layers whose nodes also read from two layers up (a skip edge), to make 5 edges per node overall. */
const SKIP_LAYERS = [2, 3, 4, 5, 6];
/** Every tenth domain holds PHI. */
const PHI_EVERY = 10;

interface Shape {
  nodes: number;
  width: number;
  domains: number;
}

function shapeOf(nodes: number): Shape {
  const width = Math.floor(nodes / LAYERS.length / DOMAIN_WIDTH) * DOMAIN_WIDTH;
  if (width < DOMAIN_WIDTH) throw new Error(`--nodes must be at least ${LAYERS.length * DOMAIN_WIDTH}`);
  return { nodes: width * LAYERS.length, width, domains: width / DOMAIN_WIDTH };
}

function describeShape(s: Shape, edges: number): string {
  return [
    `${s.nodes.toLocaleString('en-US')} nodes, ${edges.toLocaleString('en-US')} edges: a layered pipeline DAG of ${LAYERS.length} layers`,
    `(raw snapshot → dataset versions → Assay runs → Spark/dbt OpenLineage runs and tables → training sets → runs →`,
    `model versions → deployment → inference) × ${s.width.toLocaleString('en-US')} pipelines in ${s.domains} domains of ${DOMAIN_WIDTH}.`,
    `Each node reads from ${FAN_IN} nodes of the layer above among the ±3 nearest pipelines of its domain (layers`,
    `${SKIP_LAYERS.join(', ')} also from two layers up), so a walk of depth d spans about 6·d pipelines per layer:`,
    `a depth-10 walk touches a few hundred nodes, never the whole graph. Every ${PHI_EVERY}th domain is PHI.`,
  ].join('\n');
}

const typeSql = (layer: string): string => `(ARRAY[${LAYERS.map((t) => `'${t}'`).join(',')}])[${layer} + 1]`;

/** The edge type joining two node types (the product's EDGE_RULES, as SQL). */
function edgeTypeSql(from: string, to: string): string {
  const data = `('raw_snapshot','dataset_version','external_dataset')`;
  const process = `('run','external_run','job','external_job')`;
  return `CASE
    WHEN ${from} = 'raw_snapshot' AND ${to} = 'dataset_version' THEN 'promoted'
    WHEN ${from} IN ${data} AND ${to} IN ('dataset_version','external_dataset') THEN 'derived'
    WHEN (${from} IN ${data} OR ${from} = 'model_version') AND ${to} IN ${process} THEN 'input'
    WHEN ${from} IN ${process} AND ${to} IN ('dataset_version','external_dataset','model_version') THEN 'output'
    WHEN ${from} IN ${process} AND ${to} IN ${process} THEN 'parent'
    WHEN ${from} = 'model_version' AND ${to} = 'deployment' THEN 'deployed'
    WHEN ${from} = 'deployment' AND ${to} = 'inference' THEN 'served' END`;
}

async function loadNodes(db: Db, s: Shape): Promise<void> {
  const type = typeSql('l');
  await db.query(
    `INSERT INTO lineage_nodes (key, id, type, namespace, name, classification) OVERRIDING SYSTEM VALUE
     SELECT k, 'n' || k, ${type},
            CASE WHEN ${type} LIKE 'external\\_%' THEN 'spark://domain-' || (c / ${DOMAIN_WIDTH}) END,
            CASE WHEN ${type} LIKE 'external\\_%' THEN 'warehouse.table_' || k END,
            CASE WHEN (c / ${DOMAIN_WIDTH}) % ${PHI_EVERY} = ${PHI_EVERY - 1} THEN 'PHI' ELSE 'internal' END
       FROM generate_series(1, $1::bigint) AS k,
            LATERAL (SELECT (k - 1) / $2 AS l, (k - 1) % $2 AS c) AS pos`,
    [s.nodes, s.width],
  );
}

/** The edges into one layer: FAN_IN parents each, plus a skip edge on SKIP_LAYERS. */
async function loadEdgesInto(db: Db, s: Shape, layer: number): Promise<number> {
  const parents = `SELECT ${layer - 1} AS pl, (c / ${DOMAIN_WIDTH}) * ${DOMAIN_WIDTH}
                          + ((c % ${DOMAIN_WIDTH}) + ((k * 2654435761) % 3) - 1 + j - 2 + ${DOMAIN_WIDTH}) % ${DOMAIN_WIDTH} AS pc
                     FROM generate_series(0, ${FAN_IN - 1}) AS j`;
  const skip = SKIP_LAYERS.includes(layer) ? `UNION ALL SELECT ${layer - 2}, c` : '';
  const r = await db.query(
    `INSERT INTO lineage_edges (src, dst, type)
     SELECT p.pl * $2 + p.pc + 1, k, ${edgeTypeSql(typeSql('p.pl'), `'${LAYERS[layer]}'`)}
       FROM generate_series($1::bigint * $2 + 1, ($1::bigint + 1) * $2) AS k,
            LATERAL (SELECT (k - 1) % $2 AS c) AS pos,
            LATERAL (${parents} ${skip}) AS p`,
    [layer, s.width],
  );
  return r.rowCount;
}

/** Loads the graph; the edge indexes and foreign keys are rebuilt after the load. */
async function loadGraph(db: Db, s: Shape, log: (line: string) => void): Promise<{ edges: number; seconds: number }> {
  const start = process.hrtime.bigint();
  await loadNodes(db, s);
  log(`  nodes loaded (${seconds(start).toFixed(1)} s)`);
  await db.exec(`ALTER TABLE lineage_edges DROP CONSTRAINT lineage_edges_pkey, DROP CONSTRAINT lineage_edges_src_fkey, DROP CONSTRAINT lineage_edges_dst_fkey;
                 DROP INDEX lineage_edges_upstream`);
  let edges = 0;
  for (let layer = 1; layer < LAYERS.length; layer++) edges += await loadEdgesInto(db, s, layer);
  log(`  ${edges.toLocaleString('en-US')} edges loaded (${seconds(start).toFixed(1)} s)`);
  await db.exec(`ALTER TABLE lineage_edges ADD PRIMARY KEY (src, dst, type);
                 CREATE INDEX lineage_edges_upstream ON lineage_edges (dst, src, type);
                 ALTER TABLE lineage_edges ADD FOREIGN KEY (src) REFERENCES lineage_nodes (key), ADD FOREIGN KEY (dst) REFERENCES lineage_nodes (key)`);
  log(`  indexes and foreign keys built (${seconds(start).toFixed(1)} s)`);
  // One statement each: VACUUM refuses to run inside the implicit transaction of a multi-statement string.
  await db.exec('VACUUM ANALYZE lineage_nodes');
  await db.exec('VACUUM ANALYZE lineage_edges');
  log(`  vacuumed and analysed (${seconds(start).toFixed(1)} s)`);
  return { edges, seconds: seconds(start) };
}

// ── What is measured ───────────────────────────────────────────────────────────────────────

/** One way of answering "the lineage of node `key` to depth 10"; returns how many nodes it found. */
type Walker = (db: Db, start: { key: number; id: string }, way: 'up' | 'down') => Promise<number>;

const ALL = [...CLASSIFICATIONS];
const UNCLEARED = visibleClassifications({ clearance: [], elevatedBreakGlass: false });

/** The product: `lineageGraph`, one call of the `lineage_walk` database function per direction (plus the start node's lookup). */
const productWalk =
  (visible: readonly (typeof ALL)[number][]): Walker =>
  async (db, start, way) =>
    (await lineageGraph(db, { start: { id: start.id }, depth: DEPTH, direction: way as Direction, visible })).nodes.length;

const FRONT = { up: { near: 'dst', far: 'src' }, down: { near: 'src', far: 'dst' } } as const;

/** A breadth-first walk that asks the database for the neighbours of `batch(frontier)` at each step. */
async function bfs(db: Db, start: { key: number; way: 'up' | 'down' }, batched: boolean): Promise<number> {
  const { near, far } = FRONT[start.way];
  const sql = `SELECT n.key AS k, n.id, n.type, n.namespace, n.name, n.classification, e.src, e.dst, e.type AS edge_type
                 FROM lineage_edges e JOIN lineage_nodes n ON n.key = e.${far} WHERE e.${near} = ANY ($1::bigint[])`;
  const seen = new Set([start.key]);
  let frontier = [start.key];
  for (let d = 1; d <= DEPTH && frontier.length > 0; d++) {
    const next: number[] = [];
    const batches = batched ? [frontier] : frontier.map((k) => [k]);
    for (const batch of batches) {
      for (const { k } of (await db.query<{ k: number }>(sql, [batch])).rows) {
        if (seen.has(k)) continue;
        seen.add(k);
        next.push(k);
      }
    }
    frontier = next;
  }
  return seen.size;
}

/** Baseline 1, depth-bounded frontier batching: breadth-first, one query per step for the whole frontier (ten round trips at depth 10). */
const frontierBfs: Walker = (db, start, way) => bfs(db, { key: start.key, way }, true);

/** Baseline 2, per-node queries: the same walk, one query per node for its neighbours, as an ORM's lazy loading does. */
const perNode: Walker = (db, start, way) => bfs(db, { key: start.key, way }, false);

/**
 * Baseline 3, the textbook cycle-safe recursive CTE: it carries each path and refuses to
 * revisit a node on it (what SQL's CYCLE clause does), so it enumerates paths, not nodes (the
 * product deduplicates per edge and depth instead, and bounds the depth). On a
 * DAG where every node has 5 parents that is up to 5^10 paths at depth 10; it runs under a
 * statement timeout on a few start nodes only.
 */
const PATH_CTE_TIMEOUT_MS = 2000;
const pathCte: Walker = async (db, start, way) => {
  const { near, far } = FRONT[way];
  return db.transaction(async (tx) => {
    await tx.query(`SET LOCAL statement_timeout = ${PATH_CTE_TIMEOUT_MS}`);
    const r = await tx.query<{ n: number }>(
      `WITH RECURSIVE walk (node, depth, path) AS (
         SELECT $1::bigint, 0, ARRAY[$1::bigint]
         UNION ALL
         SELECT e.${far}, w.depth + 1, w.path || e.${far} FROM walk w JOIN lineage_edges e ON e.${near} = w.node
          WHERE w.depth < $2 AND NOT e.${far} = ANY (w.path)
       )
       SELECT count(DISTINCT node)::int AS n FROM walk`,
      [start.key, DEPTH],
    );
    return r.rows[0]!.n;
  });
};

interface Stats {
  name: string;
  direction: 'up' | 'down';
  samples: number;
  timeouts: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  meanNodes: number;
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

/** One way of walking, how many start nodes it gets, and which it must skip. */
interface Contender {
  name: string;
  walk: Walker;
  samples: number;
  skip?: (start: { key: number }) => boolean;
}

function stats(c: Contender, way: 'up' | 'down', run: { times: number[]; nodes: number; timeouts: number }): Stats {
  const times = [...run.times].sort((a, b) => a - b);
  const done = times.length - run.timeouts;
  return {
    name: c.name,
    direction: way,
    samples: times.length,
    timeouts: run.timeouts,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    meanMs: times.reduce((a, b) => a + b, 0) / times.length,
    maxMs: times.at(-1) ?? NaN,
    meanNodes: done > 0 ? run.nodes / done : NaN,
  };
}

/**
 * Times every contender from the same start nodes, interleaved: for each start, each contender
 * in turn, the order rotating from one start to the next, so none always runs on a cache
 * another has just warmed, and a burst of load on the machine hits them all alike.
 */
async function measureTogether(db: Db, contenders: Contender[], plan: { way: 'up' | 'down'; starts: Array<{ key: number; id: string }> }): Promise<Stats[]> {
  const runs = contenders.map(() => ({ times: [] as number[], nodes: 0, timeouts: 0 }));
  for (let i = 0; i < plan.starts.length; i++) {
    const start = plan.starts[i]!;
    for (let j = 0; j < contenders.length; j++) {
      const c = (i + j) % contenders.length;
      const contender = contenders[c]!;
      const run = runs[c]!;
      if (run.times.length >= contender.samples || contender.skip?.(start)) continue;
      const t0 = process.hrtime.bigint();
      try {
        run.nodes += await contender.walk(db, start, plan.way);
      } catch (err) {
        if (!/statement timeout|canceling statement/i.test((err as Error).message)) throw err;
        run.timeouts++;
      }
      run.times.push(seconds(t0) * 1000);
    }
  }
  return contenders.map((c, i) => stats(c, plan.way, runs[i]!));
}

/** A small deterministic PRNG (mulberry32), so every run walks from the same start nodes. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Whether the node with `key` lies in a PHI domain. */
const isPhi = (s: Shape, key: number): boolean => Math.floor(((key - 1) % s.width) / DOMAIN_WIDTH) % PHI_EVERY === PHI_EVERY - 1;

/** Start nodes with a full depth-10 walk ahead: upstream from the lower half of the layers, downstream from the upper. */
function startNodes(s: Shape, way: 'up' | 'down', count: number): Array<{ key: number; id: string }> {
  const next = random(way === 'up' ? 1 : 2);
  return Array.from({ length: count }, () => {
    const layer = (way === 'up' ? DEPTH : 0) + Math.floor(next() * (LAYERS.length - DEPTH));
    const key = layer * s.width + Math.floor(next() * s.width) + 1;
    return { key, id: `n${key}` };
  });
}

// ── The run ────────────────────────────────────────────────────────────────────────────────

interface BackendResult {
  backend: string;
  settings: ServerSettings;
  graph: { nodes: number; edges: number; loadSeconds: number; description: string };
  measurements: Stats[];
  ratios: Array<{ baseline: string; direction: string; p50: number; p99: number }>;
}

async function runBackend(db: Db, options: { name: string; nodes: number; samples: number; baselineSamples: number }): Promise<BackendResult> {
  const log = (line: string): void => console.log(line);
  await migrate(db);
  const s = shapeOf(options.nodes);
  log(`${options.name}: loading ${s.nodes.toLocaleString('en-US')} nodes …`);
  const loaded = await loadGraph(db, s, log);
  const description = describeShape(s, loaded.edges);
  const measurements: Stats[] = [];
  const product: Contender = { name: 'lineageGraph (lineage_walk, one statement)', walk: productWalk(ALL), samples: options.samples };
  // A viewer without PHI clearance asks about nodes it may see (a PHI start node is "not found" to it).
  const uncleared: Contender = { name: 'lineageGraph, viewer without PHI clearance', walk: productWalk(UNCLEARED), samples: options.baselineSamples, skip: (x) => isPhi(s, x.key) };
  const baselines: Contender[] = [
    { name: 'frontier-batched BFS (a query per step)', walk: frontierBfs, samples: options.baselineSamples },
    { name: 'per-node queries (N+1 BFS)', walk: perNode, samples: options.baselineSamples },
    // PGlite runs in this thread and cannot cancel a statement on a timeout: the path CTE would never return there.
    ...(db.kind === 'postgres' ? [{ name: `path-tracking recursive CTE (CYCLE-style), ${PATH_CTE_TIMEOUT_MS} ms timeout`, walk: pathCte, samples: 5 }] : []),
  ];
  const contenders = [product, uncleared, ...baselines];
  for (const way of ['up', 'down'] as const) {
    // Warm plans and connections on other start nodes (untimed), so the first samples are not cold outliers.
    await measureTogether(db, [product, uncleared, baselines[0]!, baselines[1]!].map((c) => ({ ...c, samples: 20 })), { way, starts: startNodes(s, way === 'up' ? 'down' : 'up', 40) });
    log(`  measuring ${way} …`);
    measurements.push(...(await measureTogether(db, contenders, { way, starts: startNodes(s, way, options.samples) })));
  }
  const ratios = baselines.flatMap((b) =>
    (['up', 'down'] as const).map((way) => {
      const ours = measurements.find((m) => m.name === product.name && m.direction === way)!;
      const theirs = measurements.find((m) => m.name === b.name && m.direction === way)!;
      return { baseline: b.name, direction: way, p50: theirs.p50Ms / ours.p50Ms, p99: theirs.p99Ms / ours.p99Ms };
    }),
  );
  return { backend: options.name, settings: await serverSettings(db), graph: { nodes: s.nodes, edges: loaded.edges, loadSeconds: loaded.seconds, description }, measurements, ratios };
}

function printResult(r: BackendResult): void {
  console.log(`\n${r.backend}: ${r.graph.description}\nloaded in ${r.graph.loadSeconds.toFixed(1)} s (PostgreSQL ${r.settings.version})\n`);
  const header = ['depth 10', 'dir', 'samples', 'p50 ms', 'p99 ms', 'mean ms', 'max ms', 'nodes'];
  const rows = r.measurements.map((m) => [
    m.name,
    m.direction,
    `${m.samples}${m.timeouts ? ` (${m.timeouts} timed out)` : ''}`,
    m.p50Ms.toFixed(2),
    m.p99Ms.toFixed(2),
    m.meanMs.toFixed(2),
    m.maxMs.toFixed(2),
    Number.isNaN(m.meanNodes) ? '-' : m.meanNodes.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.length)));
  const line = (c: string[]): string => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('');
  for (const x of r.ratios) console.log(`${x.baseline}, ${x.direction}: ${x.p50.toFixed(1)}× the product's p50, ${x.p99.toFixed(1)}× its p99`);
  for (const way of ['up', 'down']) {
    const m = r.measurements.find((x) => x.direction === way)!;
    console.log(`target p99 < ${TARGET_P99_MS} ms at depth ${DEPTH}, ${way}: ${m.p99Ms < TARGET_P99_MS ? 'met' : 'NOT met'} (${m.p99Ms.toFixed(2)} ms)`);
  }
}

function options(): { nodes: number; pgliteNodes: number; samples: number; baselineSamples: number } {
  const { values } = parseArgs({
    options: {
      nodes: { type: 'string', default: '1000000' },
      'pglite-nodes': { type: 'string', default: '100000' },
      samples: { type: 'string', default: '1000' },
      'baseline-samples': { type: 'string', default: '200' },
    },
  });
  const n = (name: string, v: string | undefined, min: number): number => {
    const x = Number(v);
    if (!Number.isInteger(x) || x < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
    return x;
  };
  return {
    nodes: n('nodes', values.nodes, 10_000),
    pgliteNodes: n('pglite-nodes', values['pglite-nodes'], 0),
    samples: n('samples', values.samples, 10),
    baselineSamples: n('baseline-samples', values['baseline-samples'], 5),
  };
}

async function main(): Promise<void> {
  const o = options();
  const adminUrl = process.env.ASSAY_TEST_DATABASE_URL || DEFAULT_POSTGRES_URL;
  const results: BackendResult[] = [];
  const notes: string[] = [];
  try {
    const pg = await openTestPostgresDb(adminUrl);
    notes.push(`postgres reached over TCP at ${new URL(adminUrl).host}, temporary database dropped afterwards`);
    try {
      results.push(await runBackend(pg.db, { name: 'postgres', nodes: o.nodes, samples: o.samples, baselineSamples: o.baselineSamples }));
      printResult(results.at(-1)!);
    } finally {
      await pg.cleanup();
    }
  } catch (err) {
    if (!/ECONNREFUSED|connect/i.test((err as Error).message)) throw err;
    notes.push(`postgres skipped: ${new URL(adminUrl).host} unreachable (${(err as Error).message})`);
  }
  if (o.pgliteNodes > 0) {
    const db = await createPgliteDb();
    try {
      results.push(await runBackend(db, { name: 'pglite (memory)', nodes: o.pgliteNodes, samples: Math.min(o.samples, 500), baselineSamples: Math.min(o.baselineSamples, 100) }));
      printResult(results.at(-1)!);
    } finally {
      await db.close();
    }
  }
  for (const note of notes) console.log(`note: ${note}`);

  const cpuList = cpus();
  await mkdir(join(here, 'results'), { recursive: true });
  const file = join(here, 'results', 'lineage.json');
  await writeFile(
    file,
    JSON.stringify(
      {
        benchmark: 'lineage',
        date: new Date().toISOString(),
        depth: DEPTH,
        targetP99Ms: TARGET_P99_MS,
        machine: {
          node: process.version,
          platform: `${platform()} ${release()}`,
          cpus: cpuList.length,
          cpu: cpuList[0]?.model ?? 'unknown',
          memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
        },
        results,
        notes,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`\nwrote ${file}`);
}

await main();
