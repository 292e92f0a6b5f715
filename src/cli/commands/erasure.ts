import { Option, type Command } from 'commander';
import { counted } from '../../core/index.js';
import { ERASURE_STATUSES, type ErasureRequestRecord, type ErasureRequestSummary } from '../../data/index.js';
import { getAllPages, getJson, postJson, serverFor, SERVER_URL_HELP } from '../client.js';
import { inFlagTerms } from '../flag-terms.js';
import { EXIT, printable, printJson, type CommandContext } from '../io.js';

type UrlOption = { url?: string };
/** The flags and arguments behind the fields the commands send, so a refusal names what the officer typed. */
const REQUEST_FIELDS = { 'body.subjectId': '--subject-id', 'body.reason': '--reason' };
const SHOW_FIELDS = { 'params.id': 'ID' };

function summaryLine(r: ErasureRequestSummary): string {
  const flagged = r.flagsModels ? `${r.flaggedRetrainRequired} flagged retrain_required` : 'models not flagged (data.erasureFlagsModels is off)';
  // A request filed before derived versions were looked for has no count of them.
  const derived = r.derivedDatasetVersionCount === null ? '' : `${counted(r.derivedDatasetVersionCount, 'derived dataset version')}, `;
  const external = r.externalDatasetCount === null ? '' : `${counted(r.externalDatasetCount, 'external dataset')}, `;
  return `${r.id}  ${r.status}  by ${r.requestedBy} at ${r.requestedAt}  ${counted(r.datasetVersionCount, 'dataset version')}, ${derived}${external}${counted(r.modelCount, 'model')}, ${flagged}  reason: ${printable(r.reason)}\n`;
}

function recordLines(r: ErasureRequestRecord): string {
  const versions = r.datasetVersions.map((v) => `  dataset ${v.dataset} v${v.version} (${v.id}, ${v.state})\n`);
  const derived = r.derivedDatasetVersions.map((v) => `  derived dataset ${v.dataset} v${v.version} (${v.id}, ${v.state})\n`);
  // Namespaces and names come from OpenLineage events that any pipeline may send: escaped, so an
  // escape sequence or a line break in one cannot rewrite what the officer reads.
  const external = r.externalDatasets.map((x) => `  external dataset ${printable(x.namespace)} ${printable(x.name)} (${x.nodeId})\n`);
  const models = r.models.map((m) => `  model ${m.nodeId}${m.name ? ` ${printable(m.name)}` : ''}${m.retrainRequired ? '  retrain_required' : ''}\n`);
  const { datasetVersions, derivedDatasetVersions, externalDatasets, models: hiddenModels } = r.withheld;
  const withheld =
    datasetVersions + derivedDatasetVersions + externalDatasets + hiddenModels > 0
      ? [
          `  withheld: ${counted(datasetVersions, 'dataset version')}, ${counted(derivedDatasetVersions, 'derived dataset version')}, ${counted(externalDatasets, 'external dataset')} and ${counted(hiddenModels, 'model')} in lineage domains you are not cleared for, or reached only through them (counted above)\n`,
        ]
      : [];
  return [summaryLine(r), ...versions, ...derived, ...external, ...models, ...withheld].join('');
}

/**
 * Adds `assay data erasure-request` (file a GDPR Art. 17 request) and `assay data
 * erasure-requests list|show`, through the running server (the request is audited there).
 */
export function registerErasureCommands(program: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;
  const server = (opts: UrlOption) => serverFor(io, ctx.globals(), opts.url);
  const data = program.command('data').description('data protection: erasure requests (GDPR Art. 17)');

  data
    .command('erasure-request')
    .description(
      'record an erasure request: every dataset version holding the subject, every dataset version derived from them, every OpenLineage dataset outside jobs built from them and every model trained on them; flags those models retrain_required (per data.erasureFlagsModels)',
    )
    .requiredOption('--subject-id <id>', 'the data subject, as the datasets declared it (subjectIdColumn); sent in the body, hashed by the server, never stored')
    .requiredOption('--reason <text>', 'why, and on which legal basis (must not quote the subject id)')
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { subjectId: string; reason: string }) =>
      ctx.run(async () => {
        const r = await postJson<ErasureRequestRecord>(server(opts), '/api/v1/erasure-requests', { subjectId: opts.subjectId, reason: opts.reason }).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: REQUEST_FIELDS });
        });
        if (json()) printJson(io, r);
        else io.stdout(recordLines(r));
        return EXIT.ok;
      })(),
    );

  const requests = data.command('erasure-requests').description('erasure requests recorded so far');
  requests
    .command('list')
    .description('list erasure requests, oldest first')
    .addOption(new Option('--status <status>', 'only requests in this status').choices([...ERASURE_STATUSES]))
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { status?: string }) =>
      ctx.run(async () => {
        const all = await getAllPages<ErasureRequestSummary>(server(opts), { path: '/api/v1/erasure-requests', query: { status: opts.status }, key: 'erasureRequests' });
        if (json()) printJson(io, { erasureRequests: all });
        else if (all.length === 0) io.stdout('no erasure requests\n');
        else for (const r of all) io.stdout(summaryLine(r));
        return EXIT.ok;
      })(),
    );
  requests
    .command('show')
    .description('show one erasure request and what it reached')
    .argument('<id>', 'the request (era_…)')
    .option('--url <url>', SERVER_URL_HELP)
    .action((id: string, opts: UrlOption) =>
      ctx.run(async () => {
        const r = await getJson<ErasureRequestRecord>(server(opts), `/api/v1/erasure-requests/${encodeURIComponent(id)}`).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: SHOW_FIELDS });
        });
        if (json()) printJson(io, r);
        else io.stdout(recordLines(r));
        return EXIT.ok;
      })(),
    );
}
