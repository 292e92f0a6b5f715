import { readFileSync, statSync } from 'node:fs';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { AssayError, counted } from '../../core/index.js';
import { DEFAULT_DEPTH, MAX_EVENTS_PER_REQUEST, type GraphNode, type IngestReceipt, type LineageGraph } from '../../lineage/index.js';
import { getJson, postJson, serverFor, SERVER_URL_HELP } from '../client.js';
import { inFlagTerms } from '../flag-terms.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';

type UrlOption = { url?: string };
/** The flags behind the graph query's fields, so a refusal names what was typed. */
const GRAPH_FIELDS = {
  'query.node': '--node',
  'query.namespace': '--namespace',
  'query.name': '--name',
  'query.kind': '--kind',
  'query.depth': '--depth',
  'query.direction': '--direction',
  'query.limit': '--limit',
};

/**
 * The server's default JSON body limit (`maxJsonBodyBytes`): a batch of events is kept under it,
 * less room for the brackets and commas, so a file of many small events needs no server setting.
 */
const BATCH_BYTES = 1024 * 1024 - 1024;
/** The largest events file read: events are held in memory to be batched. */
const MAX_EVENTS_FILE = 512 * 1024 * 1024;

interface GraphOptions extends UrlOption {
  node?: string;
  namespace?: string;
  name?: string;
  kind?: string;
  depth?: string;
  direction?: string;
  limit?: string;
  facets?: boolean;
}

/** A node as a person reads it: its type, then its namespace and name, or its id. */
function nodeLabel(n: GraphNode | undefined, id: string): string {
  if (!n) return id;
  // Namespaces and names come from OpenLineage events any pipeline may send: escaped, so a line
  // break or an escape sequence in one cannot rewrite what is read.
  const named = n.name !== undefined ? `${n.namespace !== undefined ? `${printable(n.namespace)} ` : ''}${printable(n.name)}` : n.id;
  return `${n.type} ${named}`;
}

/** The graph as lines: what was asked, each edge upstream → downstream, and what is left out. */
function graphLines(g: LineageGraph, asked: string): string {
  const byId = new Map(g.nodes.map((n) => [n.id, n]));
  const lines = [`${asked}: ${counted(g.nodes.length, 'node')}, ${counted(g.edges.length, 'edge')}\n`];
  if (g.edges.length === 0) for (const n of g.nodes) lines.push(`  ${nodeLabel(n, n.id)} (${n.id})\n`);
  for (const e of g.edges) lines.push(`  ${nodeLabel(byId.get(e.from), e.from)} —${e.type}→ ${nodeLabel(byId.get(e.to), e.to)}\n`);
  if (g.withheld > 0) lines.push(`  ${counted(g.withheld, 'node')} withheld: in lineage domains you are not cleared for\n`);
  if (g.truncated) lines.push(`  truncated: there is more beyond the node cap; raise --limit or lower --depth\n`);
  return lines.join('');
}

/** Where a graph query starts, as the server is asked and as a person reads it. */
function startOf(opts: GraphOptions): { query: URLSearchParams; asked: string } | string {
  const external = [opts.namespace, opts.name, opts.kind].filter((v) => v !== undefined).length;
  if (opts.node !== undefined && external > 0) return 'give either --node, or --namespace, --name and --kind; not both';
  if (opts.node === undefined && external < 3) return 'give --node ID, or --namespace, --name and --kind together';
  const query = new URLSearchParams(opts.node !== undefined ? { node: opts.node } : { namespace: opts.namespace!, name: opts.name!, kind: opts.kind! });
  for (const [key, value] of Object.entries({ depth: opts.depth, direction: opts.direction, limit: opts.limit })) if (value !== undefined) query.set(key, value);
  if (opts.facets) query.set('facets', 'true');
  const from = opts.node !== undefined ? printable(opts.node) : `${opts.kind} ${printable(opts.namespace!)} ${printable(opts.name!)}`;
  return { query, asked: `lineage ${opts.direction ?? 'both'} from ${from}, depth ${opts.depth ?? DEFAULT_DEPTH}` };
}

/** One event of an events file, with where it was in the file. */
interface FileEvent {
  event: unknown;
  /** 1-based position among the file's events. */
  n: number;
  /** 1-based line, for JSON Lines. */
  line?: number;
  bytes: number;
}

/**
 * The events of `path`: one JSON event, a JSON array of events, or JSON Lines (one event per
 * line, blank lines skipped). Throws a usage-worthy Error naming the line that does not parse.
 */
function readEvents(path: string): FileEvent[] {
  const size = statSync(path).size;
  if (size > MAX_EVENTS_FILE) throw new Error(`${path} is ${size} bytes; split it into files of at most ${MAX_EVENTS_FILE} bytes`);
  const text = readFileSync(path, 'utf8');
  const entry = (event: unknown, n: number, line?: number): FileEvent => ({ event, n, ...(line !== undefined ? { line } : {}), bytes: Buffer.byteLength(JSON.stringify(event)) });
  try {
    const whole: unknown = JSON.parse(text);
    return (Array.isArray(whole) ? whole : [whole]).map((e, i) => entry(e, i + 1));
  } catch {
    // Not one JSON document: JSON Lines.
  }
  const events: FileEvent[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    if (raw.trim() === '') continue;
    try {
      events.push(entry(JSON.parse(raw), events.length + 1, i + 1));
    } catch {
      throw new Error(`line ${i + 1} of ${path} is not JSON: give one OpenLineage event, a JSON array of them, or one event per line`);
    }
  }
  return events;
}

/** Consecutive batches of at most MAX_EVENTS_PER_REQUEST events and BATCH_BYTES of JSON each (an event larger alone is sent alone). */
function batchesOf(events: FileEvent[]): FileEvent[][] {
  const batches: FileEvent[][] = [];
  let batch: FileEvent[] = [];
  let bytes = 0;
  for (const e of events) {
    if (batch.length > 0 && (batch.length === MAX_EVENTS_PER_REQUEST || bytes + e.bytes + 1 > BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(e);
    bytes += e.bytes + 1;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * The refusal of a batch in the file's terms: `body.3.run.runId` becomes `event 1004 (line
 * 1004): run.runId`, and the message starts with what was recorded and where to resume.
 */
function inFileTerms(err: unknown, batch: FileEvent[], resume: string): unknown {
  if (!(err instanceof AssayError)) return err;
  const where = (field: string): string =>
    field.replace(/^body(?:\.(\d+))?(?:\.(.*))?$/, (whole, index: string | undefined, rest: string | undefined) => {
      const e = index !== undefined ? batch[Number(index)] : undefined;
      if (!e) return whole;
      return `event ${e.n}${e.line !== undefined ? ` (line ${e.line})` : ''}${rest ? `: ${rest}` : ''}`;
    });
  const errors = err.errors.map((e) => ({ field: where(e.field), message: e.message }));
  return new AssayError(err.code, `${resume}: ${err.message.replace(/\bbody(?:\.\d+)(?:\.[^\s,;:]+)?/g, where)}`, { errors, cause: err });
}

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError('a whole number from 1');
  return n;
}

/**
 * Adds `assay lineage graph` (trace the lineage graph around an Assay object or an OpenLineage
 * dataset or job) and `assay lineage send` (send OpenLineage events from a file), through the
 * running server, which decides who may see and send what.
 */
export function registerLineageCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;
  const lineage = program.command('lineage').description('the lineage graph: trace it, and send OpenLineage events into it');

  lineage
    .command('graph')
    .description('lineage around an Assay object (--node) or an OpenLineage dataset or job (--namespace, --name, --kind): each edge upstream → downstream')
    .option('--node <id>', 'an Assay object id (dsv_…, run_…) or a lineage node id (lnd_…)')
    .option('--namespace <ns>', 'OpenLineage namespace, with --name and --kind')
    .option('--name <name>', 'OpenLineage name')
    .addOption(new Option('--kind <kind>', 'whether --namespace and --name name a dataset or a job').choices(['dataset', 'job']))
    .option('--depth <n>', `steps from the start (default ${DEFAULT_DEPTH})`)
    .addOption(new Option('--direction <dir>', 'up: where it came from; down: where it went (default both)').choices(['up', 'down', 'both']))
    .option('--limit <n>', 'node cap; past it the answer says truncated')
    .option('--facets', 'with --json: nodes carry their facets and attributes')
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: GraphOptions) =>
      ctx.run(async () => {
        const start = startOf(opts);
        if (typeof start === 'string') {
          io.stderr(`error: ${start}\n`);
          return EXIT.usage;
        }
        const g = await getJson<LineageGraph>(serverFor(io, ctx.globals(), opts.url), `/api/v1/lineage/graph?${start.query.toString()}`).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: GRAPH_FIELDS });
        });
        if (json()) printJson(io, g);
        else io.stdout(graphLines(g, start.asked));
        return EXIT.ok;
      })(),
    );

  lineage
    .command('send')
    .description(
      `send OpenLineage events from FILE (one event, a JSON array, or JSON Lines) into the lineage graph, in batches of at most ${MAX_EVENTS_PER_REQUEST}; each batch is all or nothing, and a refusal stops the send, naming the event`,
    )
    .argument('<file>', 'the events file')
    .option('--from <n>', 'start at the file\'s nth event (resume after a refused batch)', positiveInteger)
    .option('--url <url>', SERVER_URL_HELP)
    .action((file: string, opts: UrlOption & { from?: number }) =>
      ctx.run(async () => {
        let events: FileEvent[];
        try {
          events = readEvents(file);
        } catch (err) {
          io.stderr(`error: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `cannot read ${file}: no such file` : (err as Error).message}\n`);
          return EXIT.usage;
        }
        const from = opts.from ?? 1;
        if (from > events.length) {
          io.stderr(`error: --from ${from}, but ${file} holds ${counted(events.length, 'event')}\n`);
          return EXIT.usage;
        }
        const server = serverFor(io, ctx.globals(), opts.url);
        const sent: Array<{ from: number; to: number; auditEntryId: string; eventIds: string[] }> = [];
        for (const batch of batchesOf(events.slice(from - 1))) {
          const first = batch[0]!.n;
          const last = batch.at(-1)!.n;
          let receipt: IngestReceipt;
          try {
            receipt = await postJson<IngestReceipt>(server, '/api/v1/lineage', batch.map((e) => e.event));
          } catch (err) {
            const recorded = sent.length > 0 ? `events ${from}–${first - 1} were recorded; ` : '';
            throw inFileTerms(err, batch, `${recorded}events ${first}–${last} were refused and nothing from event ${first} on was recorded (fix it, then resend with --from ${first})`);
          }
          sent.push({ from: first, to: last, auditEntryId: receipt.auditEntryId, eventIds: receipt.eventIds });
          if (!json()) io.stdout(`events ${first}–${last}: recorded (${counted(receipt.received, 'event')}, audit entry ${receipt.auditEntryId})\n`);
        }
        if (json()) printJson(io, { received: events.length - from + 1, batches: sent });
        return EXIT.ok;
      })(),
    );
}
