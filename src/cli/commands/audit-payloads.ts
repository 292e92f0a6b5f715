import { InvalidArgumentError, type Command } from 'commander';
import type { AuditPayload, LegalHold, LegalHoldScope, PurgeReport } from '../../audit/index.js';
import { postJson, getJson, serverFor, SERVER_URL_HELP, type ServerTarget } from '../client.js';
import { inFlagTerms, type FieldFlags } from '../flag-terms.js';
import { EXIT, printJson, type CliIo, type CommandContext } from '../io.js';

/** What these commands need from the program. */
export type AuditPayloadCommandContext = CommandContext;

type UrlOption = { url?: string };

/** The flags behind the fields `hold place` sends, so a refusal names what was typed (`--class (2nd)`, not `body.scope.classes.1`). */
const PLACE_FIELDS: FieldFlags = {
  'body.caseId': '--case',
  'body.reason': '--reason',
  'body.scope.classes': '--class',
  'body.scope.classes.*': '--class',
  'body.scope.subjectId': '--subject',
  'body.scope.resource': '--resource',
  'body.scope.resource.type': '--resource',
  'body.scope.resource.id': '--resource',
  'body.scope.storedFrom': '--stored-from',
  'body.scope.storedTo': '--stored-to',
};
/** The same for `hold release` (`params.id` is the ID argument). */
const RELEASE_FIELDS: FieldFlags = { 'params.id': 'ID', 'body.reason': '--reason' };
/** The same for `purge`. */
const PURGE_FIELDS: FieldFlags = { 'body.dryRun': '--dry-run', 'body.limit': '--limit' };
/** The same for `erase` (`params.sha256` is the SHA256 argument). */
const ERASE_FIELDS: FieldFlags = { 'params.sha256': 'SHA256', 'body.reason': '--reason', 'body.overrideMinimum': '--override-minimum' };

function server(ctx: AuditPayloadCommandContext, opts: UrlOption): ServerTarget {
  return serverFor(ctx.io, ctx.globals(), opts.url);
}

function parseResource(value: string): { type: string; id: string } {
  const at = value.indexOf(':');
  if (at <= 0 || at === value.length - 1) throw new InvalidArgumentError('must be TYPE:ID, e.g. model_version:mv_01J…');
  return { type: value.slice(0, at), id: value.slice(at + 1) };
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 10_000) throw new InvalidArgumentError('must be an integer from 1 to 10000');
  return n;
}

function describeScope(scope: LegalHoldScope): string {
  const parts = [
    scope.classes ? `classes ${scope.classes.join(',')}` : undefined,
    scope.subjectId ? `subject ${scope.subjectId}` : undefined,
    scope.resource ? `resource ${scope.resource.type}:${scope.resource.id}` : undefined,
    scope.storedFrom ? `stored from ${scope.storedFrom}` : undefined,
    scope.storedTo ? `stored before ${scope.storedTo}` : undefined,
  ].filter((p): p is string => p !== undefined);
  return parts.length > 0 ? parts.join('; ') : 'every payload';
}

function holdLine(h: LegalHold): string {
  const state = h.active ? 'active' : `released ${h.releasedAt ?? ''} by ${h.releasedBy ?? ''}`;
  return `${h.id}  ${state}  case ${h.caseId}  placed ${h.placedAt} by ${h.placedBy}  scope: ${describeScope(h.scope)}  reason: ${h.reason}\n`;
}

function printPurge(io: CliIo, r: PurgeReport): void {
  const verb = r.dryRun ? 'would purge' : 'purged';
  io.stdout(`${r.dryRun ? 'dry run: ' : ''}${verb} ${r.purged.length} payload(s) past their retention maximum at ${r.now}\n`);
  for (const p of r.purged) io.stdout(`  ${p.sha256}  ${p.class}  due ${p.purgeAfter}${p.entryId ? `  entry ${p.entryId}` : ''}\n`);
  if (r.held.length > 0) io.stdout(`kept by legal holds: ${r.held.length}\n`);
  for (const h of r.held) io.stdout(`  ${h.sha256}  ${h.class}  due ${h.purgeAfter}  held by ${h.holdIds.join(', ')}\n`);
  if (r.more) io.stdout('more payloads are due: run again\n');
}

/** Adds `hold place|list|release`, `purge` and `erase` to the `assay audit` command. */
export function registerAuditPayloadCommands(audit: Command, ctx: AuditPayloadCommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;

  const hold = audit.command('hold').description('legal holds: while one is active, nothing in its scope is erased or purged');
  hold
    .command('place')
    .description('place a legal hold (an empty scope covers every payload)')
    .requiredOption('--case <id>', 'the matter, investigation or litigation the hold serves')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .option('--class <name...>', 'only payloads of these classes')
    .option('--subject <id>', 'only payloads concerning this data subject')
    .option('--resource <type:id>', 'only payloads referenced by audit entries about this resource', parseResource)
    .option('--stored-from <iso>', 'only payloads stored at or after this time')
    .option('--stored-to <iso>', 'only payloads stored before this time')
    .option('--url <url>', SERVER_URL_HELP)
    .action(
      (opts: UrlOption & { case: string; reason: string; class?: string[]; subject?: string; resource?: { type: string; id: string }; storedFrom?: string; storedTo?: string }) =>
        ctx.run(async () => {
          const scope = {
            ...(opts.class ? { classes: opts.class } : {}),
            ...(opts.subject ? { subjectId: opts.subject } : {}),
            ...(opts.resource ? { resource: opts.resource } : {}),
            ...(opts.storedFrom ? { storedFrom: opts.storedFrom } : {}),
            ...(opts.storedTo ? { storedTo: opts.storedTo } : {}),
          };
          const h = await postJson<LegalHold>(server(ctx, opts), '/api/v1/audit/holds', { caseId: opts.case, reason: opts.reason, scope }).catch((err: unknown) => {
            throw inFlagTerms(err, {}, { fields: !json(), paths: PLACE_FIELDS });
          });
          if (json()) printJson(io, h);
          else io.stdout(`placed legal hold ${h.id} (case ${h.caseId}) over ${describeScope(h.scope)}\n`);
          return EXIT.ok;
        })(),
    );
  hold
    .command('list')
    .description('list legal holds (active ones; --all for released ones too)')
    .option('--all', 'include released holds')
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { all?: boolean }) =>
      ctx.run(async () => {
        const { holds } = await getJson<{ holds: LegalHold[] }>(server(ctx, opts), `/api/v1/audit/holds${opts.all ? '' : '?active=true'}`);
        if (json()) printJson(io, { holds });
        else if (holds.length === 0) io.stdout(opts.all ? 'no legal holds\n' : 'no active legal holds\n');
        else for (const h of holds) io.stdout(holdLine(h));
        return EXIT.ok;
      })(),
    );
  hold
    .command('release')
    .description('release a legal hold; what it covered may then be erased or purged')
    .argument('<id>', 'the hold (hold_…)')
    .requiredOption('--reason <text>', 'why (recorded in the audit log)')
    .option('--url <url>', SERVER_URL_HELP)
    .action((id: string, opts: UrlOption & { reason: string }) =>
      ctx.run(async () => {
        const h = await postJson<LegalHold>(server(ctx, opts), `/api/v1/audit/holds/${encodeURIComponent(id)}/release`, { reason: opts.reason }).catch(
          (err: unknown) => {
            throw inFlagTerms(err, {}, { fields: !json(), paths: RELEASE_FIELDS });
          },
        );
        if (json()) printJson(io, h);
        else io.stdout(`released legal hold ${h.id} (case ${h.caseId})\n`);
        return EXIT.ok;
      })(),
    );

  audit
    .command('purge')
    .description('purge now the payload bytes past their retention maximum that no legal hold covers (the server also does this on a schedule)')
    .option('--dry-run', 'only report what would be purged')
    .option('--limit <n>', 'most payloads purged or reported (1 to 10000)', parseLimit)
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { dryRun?: boolean; limit?: number }) =>
      ctx.run(async () => {
        const report = await postJson<PurgeReport>(server(ctx, opts), '/api/v1/audit/purge', {
          dryRun: opts.dryRun === true,
          ...(opts.limit ? { limit: opts.limit } : {}),
        }).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: PURGE_FIELDS });
        });
        if (json()) printJson(io, report);
        else printPurge(io, report);
        return EXIT.ok;
      })(),
    );

  audit
    .command('erase')
    .description('erase a payload\'s bytes (GDPR Art. 17); its hash, record and audit entries stay')
    .argument('<sha256>', 'the payload hash')
    .requiredOption('--reason <text>', 'the erasure request and its reference (recorded in the audit log)')
    .option('--override-minimum', 'erase before the retention minimum (a recorded decision, GDPR Art. 17(3)(b))')
    .option('--url <url>', SERVER_URL_HELP)
    .action((sha256: string, opts: UrlOption & { reason: string; overrideMinimum?: boolean }) =>
      ctx.run(async () => {
        const p = await postJson<AuditPayload>(server(ctx, opts), `/api/v1/audit/payloads/${encodeURIComponent(sha256)}/erase`, {
          reason: opts.reason,
          overrideMinimum: opts.overrideMinimum === true,
        }).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: ERASE_FIELDS });
        });
        if (json()) printJson(io, p);
        else io.stdout(`erased the bytes of audit payload ${p.sha256} (entry ${p.eraseEntryId ?? ''}); its record and hash remain\n`);
        return EXIT.ok;
      })(),
    );
}
