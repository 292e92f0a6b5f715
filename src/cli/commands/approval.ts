import { InvalidArgumentError, Option, type Command } from 'commander';
import { APPROVAL_STATUSES, type ApprovalRequestRecord, type AutonomyAnswer } from '../../autonomy/index.js';
import { RISK_TIERS } from '../../policy/index.js';
import { getAllPages, getJson, postJson, serverFor, SERVER_URL_HELP } from '../client.js';
import { inFlagTerms, type FieldFlags } from '../flag-terms.js';
import { EXIT, printJson, type CommandContext } from '../io.js';

type UrlOption = { url?: string };

/** The flags behind the fields `policy decide` sends, so a refusal names what was typed (`--approval`, not `body.approvalId`). */
const DECIDE_FIELDS: FieldFlags = {
  'body.action': '--action',
  'body.risk': '--risk',
  'body.purpose': '--purpose',
  'body.amount': '--amount',
  'body.approvalId': '--approval',
  'body.expiresInMinutes': '--expires-in',
};

/** The same for `approval approve|reject` (`params.id` is the ID argument). */
const VERDICT_FIELDS: FieldFlags = { 'params.id': 'ID', 'body.comment': '--comment' };

function parseAmount(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number ≥ 0');
  return n;
}

function parseMinutes(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('must be a whole number of minutes ≥ 1');
  return n;
}

function approvalLine(a: ApprovalRequestRecord): string {
  const amount = a.amount === null ? '' : ` amount ${a.amount}`;
  const decided = a.decidedBy ? `  ${a.status} by ${a.decidedBy} at ${a.decidedAt ?? ''}: ${a.comment ?? ''}` : `  ${a.status} until ${a.expiresAt}`;
  return `${a.id}  ${a.action} (${a.risk}${amount}) for ${a.requesterId}  rule ${a.rule}${decided}  purpose: ${a.purpose}\n`;
}

function answerLine(a: AutonomyAnswer): string {
  const approval = a.approval ? `\napproval request ${a.approval.id} (${a.approval.status}, expires ${a.approval.expiresAt})` : '';
  return `${a.decision} (rule ${a.rule}): ${a.reason}${approval}\n`;
}

/**
 * Adds `assay policy decide` (ask before acting) under `policy`, and `assay approval
 * list|show|approve|reject` (humans resolving what bounded autonomy held back).
 */
export function registerApprovalCommands(program: Command, policy: Command, ctx: CommandContext): void {
  const { io } = ctx;
  const json = (): boolean => ctx.globals().json === true;
  const server = (opts: UrlOption) => serverFor(io, ctx.globals(), opts.url);

  policy
    .command('decide')
    .description('ask before acting: autonomous, notify_human or require_approval (which opens an approval request); --approval acts on an approved request, once')
    .requiredOption('--action <type>', 'dotted action type, e.g. payment.refund')
    .addOption(new Option('--risk <tier>', 'risk of the action').choices([...RISK_TIERS]).makeOptionMandatory())
    .requiredOption('--purpose <text>', 'why (recorded in the audit log)')
    .option('--amount <n>', 'amount at stake', parseAmount)
    .option('--approval <id>', 'an approved request (apr_…) to act on')
    .option('--expires-in <minutes>', 'a shorter life for the approval request this may open', parseMinutes)
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { action: string; risk: string; purpose: string; amount?: number; approval?: string; expiresIn?: number }) =>
      ctx.run(async () => {
        const answer = await postJson<AutonomyAnswer>(server(opts), '/api/v1/policy/decide', {
          action: opts.action,
          risk: opts.risk,
          purpose: opts.purpose,
          ...(opts.amount !== undefined ? { amount: opts.amount } : {}),
          ...(opts.approval ? { approvalId: opts.approval } : {}),
          ...(opts.expiresIn ? { expiresInMinutes: opts.expiresIn } : {}),
        }).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !json(), paths: DECIDE_FIELDS });
        });
        if (json()) printJson(io, answer);
        else io.stdout(answerLine(answer));
        return EXIT.ok;
      })(),
    );

  const approval = program.command('approval').description('approval requests: what bounded autonomy held back for a human to decide');
  approval
    .command('list')
    .description('list approval requests, oldest first (pending ones unless --status says otherwise)')
    .addOption(new Option('--status <status>', 'only requests in this status').choices([...APPROVAL_STATUSES, 'any']).default('pending'))
    .option('--requester <id>', 'only requests of this principal')
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { status: string; requester?: string }) =>
      ctx.run(async () => {
        const all = await getAllPages<ApprovalRequestRecord>(server(opts), {
          path: '/api/v1/approvals',
          query: { status: opts.status === 'any' ? undefined : opts.status, requester: opts.requester },
          key: 'approvals',
        });
        if (json()) printJson(io, { approvals: all });
        else if (all.length === 0) io.stdout(opts.status === 'any' ? 'no approval requests\n' : `no ${opts.status} approval requests\n`);
        else for (const a of all) io.stdout(approvalLine(a));
        return EXIT.ok;
      })(),
    );
  approval
    .command('show')
    .description('show one approval request')
    .argument('<id>', 'the request (apr_…)')
    .option('--url <url>', SERVER_URL_HELP)
    .action((id: string, opts: UrlOption) =>
      ctx.run(async () => {
        const a = await getJson<ApprovalRequestRecord>(server(opts), `/api/v1/approvals/${encodeURIComponent(id)}`);
        if (json()) printJson(io, a);
        else io.stdout(approvalLine(a));
        return EXIT.ok;
      })(),
    );
  for (const verdict of ['approve', 'reject'] as const) {
    approval
      .command(verdict)
      .description(`${verdict} a pending request, with a comment (never your own)`)
      .argument('<id>', 'the request (apr_…)')
      .requiredOption('--comment <text>', 'why (kept with the decision and in the audit log)')
      .option('--url <url>', SERVER_URL_HELP)
      .action((id: string, opts: UrlOption & { comment: string }) =>
        ctx.run(async () => {
          const a = await postJson<ApprovalRequestRecord>(server(opts), `/api/v1/approvals/${encodeURIComponent(id)}/${verdict}`, { comment: opts.comment }).catch(
            (err: unknown) => {
              throw inFlagTerms(err, {}, { fields: !json(), paths: VERDICT_FIELDS });
            },
          );
          if (json()) printJson(io, a);
          else io.stdout(approvalLine(a));
          return EXIT.ok;
        })(),
      );
  }
}
