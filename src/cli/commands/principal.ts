import { InvalidArgumentError, Option, type Command } from 'commander';
import { AssayError } from '../../core/index.js';
import { BUILT_IN_ROLES, isRole, PRINCIPAL_KINDS, type IssuedToken, type Principal, type Role, type TokenInfo } from '../../identity/index.js';
import { getAllPages, getJson, postJson, requestJson, serverFor, SERVER_URL_HELP, type JsonRequest, type ServerTarget } from '../client.js';
import { inFlagTerms, type FieldFlags } from '../flag-terms.js';
import { EXIT, printJson, type CliIo, type CommandContext } from '../io.js';

/** The flags (or arguments) of `principal create` for the API's fields, so a refusal names what was typed (`--attr colour`, not `body.attributes.colour`). */
const CREATE_FIELDS: FieldFlags = {
  'body.name': 'NAME',
  'body.kind': '--kind',
  'body.roles': '--role',
  'body.roles.*': '--role',
  'body.attributes': '--attr',
  'body.attributes.<key>': '--attr <key>',
  'body.token.name': '--token-name',
  'body.token.expiresInDays': '--expires-in-days',
  'body.token.scopes': '--scope',
  'body.token.scopes.*': '--scope',
};

/** The same for `token issue` and `token list` (`params.id` is the --principal they were given). */
const TOKEN_FIELDS: FieldFlags = {
  'params.id': '--principal',
  'body.name': 'NAME',
  'body.expiresInDays': '--expires-in-days',
  'body.scopes': '--scope',
  'body.scopes.*': '--scope',
};

/** What these commands need from the program. */
export type PrincipalCommandContext = CommandContext;

type UrlOption = { url?: string };

interface TokenOptions extends UrlOption {
  expiresInDays?: number;
  scope?: string[];
}

function server(ctx: PrincipalCommandContext, opts: UrlOption): ServerTarget {
  return serverFor(ctx.io, ctx.globals(), opts.url);
}

function collectRole(value: string, previous: Role[] | undefined): Role[] {
  if (!isRole(value)) throw new InvalidArgumentError(`must be one of ${BUILT_IN_ROLES.join(', ')}`);
  return [...(previous ?? []), value];
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `--attr k=v`, repeatable; clearance takes a comma-separated list and accumulates. Unknown keys are the server's to refuse. */
function collectAttribute(value: string, previous: Record<string, string | string[]> | undefined): Record<string, string | string[]> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError('must be KEY=VALUE, e.g. team=credit-risk, region=eu-west, clearance=pii,phi');
  const key = value.slice(0, eq);
  const v = value.slice(eq + 1);
  const attrs = { ...(previous ?? {}) };
  if (key === 'clearance') {
    const before = attrs.clearance;
    attrs.clearance = [...(Array.isArray(before) ? before : []), ...v.split(',').filter((c) => c.length > 0)];
  } else {
    if (key in attrs) throw new InvalidArgumentError(`${key} given twice`);
    attrs[key] = v;
  }
  return attrs;
}

function parseDays(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || n > 3650) throw new InvalidArgumentError('must be a whole number of days from 1 to 3650');
  return n;
}

function tokenBody(name: string, opts: TokenOptions): Record<string, unknown> {
  return { name, ...(opts.expiresInDays ? { expiresInDays: opts.expiresInDays } : {}), ...(opts.scope ? { scopes: opts.scope } : {}) };
}

/** A principal id as given, or the id of the principal with that name. */
async function resolvePrincipal(target: ServerTarget, idOrName: string): Promise<string> {
  if (/^prn_[0-9A-Z]{26}$/.test(idOrName)) return idOrName;
  const page = await getJson<{ principals: Principal[] }>(target, `/api/v1/principals?name=${encodeURIComponent(idOrName)}`);
  const found = page.principals[0];
  if (!found) throw new AssayError('not_found', `no principal named ${idOrName}`);
  return found.id;
}

function principalLines(p: Principal): string {
  const attrs = Object.entries(p.attributes).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : String(v)}`);
  return [
    `id:          ${p.id}`,
    `name:        ${p.name}`,
    `kind:        ${p.kind}`,
    `roles:       ${p.roles.join(', ') || 'none'}`,
    `attributes:  ${attrs.join(' ') || 'none'}`,
    `created:     ${p.createdAt}${p.createdBy ? ` by ${p.createdBy}` : ''}`,
    `status:      ${p.disabledAt ? `disabled since ${p.disabledAt}` : 'enabled'}`,
    ...(p.oidc ? [`oidc:        ${p.oidc.issuer} subject ${p.oidc.subject}`] : []),
  ].join('\n') + '\n';
}

function tokenLine(t: TokenInfo): string {
  const state = t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `expires ${t.expiresAt}` : 'no expiry';
  return `${t.id}  ${t.name}  [${t.scopes.join(' ')}]  created ${t.createdAt}  ${state}  last used ${t.lastUsedAt ?? 'never'}\n`;
}

function printIssued(io: CliIo, issued: IssuedToken): void {
  io.stdout(`issued token "${issued.name}" (${issued.id}) for ${issued.principalId}, scopes ${issued.scopes.join(' ')}, ${issued.expiresAt ? `expires ${issued.expiresAt}` : 'no expiry'}\n`);
  io.stdout(`token (shown once, store it now): ${issued.token}\n`);
}

/** Registers `assay principal create|list|show` and `assay token issue|list|revoke`; all go through the running server. */
export function registerPrincipalCommands(program: Command, ctx: PrincipalCommandContext): void {
  const { io, globals, run } = ctx;
  const principal = program.command('principal').description('humans, service accounts and agents, with built-in roles and attributes');
  principal
    .command('create <name>')
    .description('create a principal and its first token; with --json prints exactly {"id", "token"}')
    .requiredOption('--role <role>', `built-in role, repeatable (${BUILT_IN_ROLES.join(', ')})`, collectRole)
    .addOption(new Option('--kind <kind>', 'kind of principal').choices(PRINCIPAL_KINDS).default('human'))
    .option('--attr <key=value>', 'attribute, repeatable: team=…, region=…, clearance=pii,phi', collectAttribute)
    .option('--token-name <name>', 'name of the first token', 'initial')
    .option('--expires-in-days <days>', 'the first token expires after this many days', parseDays)
    .option('--scope <scope>', 'scope of the first token, repeatable: read, write, an operation id, role:<role>', collect)
    .option('--url <url>', SERVER_URL_HELP)
    .action((name: string, opts: TokenOptions & { role: Role[]; kind: string; attr?: Record<string, string | string[]>; tokenName: string }) =>
      run(async () => {
        const created = await postJson<Principal & { token: string }>(server(ctx, opts), '/api/v1/principals', {
          name,
          kind: opts.kind,
          roles: opts.role,
          attributes: opts.attr ?? {},
          token: tokenBody(opts.tokenName, opts),
        }).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !globals().json, paths: CREATE_FIELDS });
        });
        // Scripts rely on this exact shape: no other keys.
        if (globals().json) printJson(io, { id: created.id, token: created.token });
        else {
          io.stdout(`created ${created.kind} principal ${created.name} (${created.id}) with roles ${created.roles.join(', ') || 'none'}\n`);
          io.stdout(`token (shown once, store it now): ${created.token}\n`);
        }
        return EXIT.ok;
      })(),
    );
  principal
    .command('list')
    .description('list principals in creation order')
    .addOption(new Option('--kind <kind>', 'only this kind').choices(PRINCIPAL_KINDS))
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { kind?: string }) =>
      run(async () => {
        const all = await getAllPages<Principal>(server(ctx, opts), { path: '/api/v1/principals', query: { kind: opts.kind }, key: 'principals' });
        if (globals().json) printJson(io, { principals: all });
        else {
          for (const p of all) {
            io.stdout(`${p.id}  ${p.name}  ${p.kind}  ${p.roles.join(',') || '-'}  ${p.disabledAt ? 'disabled' : 'enabled'}\n`);
          }
        }
        return EXIT.ok;
      })(),
    );
  principal
    .command('show <principal>')
    .description('show one principal, by id or name')
    .option('--url <url>', SERVER_URL_HELP)
    .action((idOrName: string, opts: UrlOption) =>
      run(async () => {
        const target = server(ctx, opts);
        const p = await getJson<Principal>(target, `/api/v1/principals/${await resolvePrincipal(target, idOrName)}`);
        if (globals().json) printJson(io, p);
        else io.stdout(principalLines(p));
        return EXIT.ok;
      })(),
    );

  const token = program.command('token').description('API tokens: scoped, expiring, revocable; the secret is shown once');
  token
    .command('issue <name>')
    .description('issue a token for yourself, or with --principal for another principal (platform-admin)')
    .option('--principal <principal>', 'id or name of the principal to issue for')
    .option('--expires-in-days <days>', 'expire after this many days', parseDays)
    .option('--scope <scope>', 'repeatable: read, write, an operation id, role:<role> (default: read and write)', collect)
    .option('--url <url>', SERVER_URL_HELP)
    .action((name: string, opts: TokenOptions & { principal?: string }) =>
      run(async () => {
        const target = server(ctx, opts);
        const path = opts.principal ? `/api/v1/principals/${await resolvePrincipal(target, opts.principal)}/tokens` : '/api/v1/tokens';
        const issued = await postJson<IssuedToken>(target, path, tokenBody(name, opts)).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !globals().json, paths: TOKEN_FIELDS });
        });
        if (globals().json) printJson(io, issued);
        else printIssued(io, issued);
        return EXIT.ok;
      })(),
    );
  token
    .command('list')
    .description('list your tokens, or with --principal another principal\'s (platform-admin); never the secrets')
    .option('--principal <principal>', 'id or name of the principal')
    .option('--url <url>', SERVER_URL_HELP)
    .action((opts: UrlOption & { principal?: string }) =>
      run(async () => {
        const target = server(ctx, opts);
        const path = opts.principal ? `/api/v1/principals/${await resolvePrincipal(target, opts.principal)}/tokens` : '/api/v1/tokens';
        const { tokens } = await getJson<{ tokens: TokenInfo[] }>(target, path);
        if (globals().json) printJson(io, { tokens });
        else for (const t of tokens) io.stdout(tokenLine(t));
        return EXIT.ok;
      })(),
    );
  token
    .command('revoke <tokenId>')
    .description('revoke a token at once (your own, or any as platform-admin)')
    .option('--url <url>', SERVER_URL_HELP)
    .action((tokenId: string, opts: UrlOption) =>
      run(async () => {
        const request: JsonRequest = { method: 'DELETE', path: `/api/v1/tokens/${encodeURIComponent(tokenId)}` };
        const revoked = await requestJson<TokenInfo>(server(ctx, opts), request).catch((err: unknown) => {
          throw inFlagTerms(err, {}, { fields: !globals().json, paths: { 'params.id': 'TOKEN_ID' } });
        });
        if (globals().json) printJson(io, revoked);
        else io.stdout(`revoked ${revoked.id} ("${revoked.name}") at ${revoked.revokedAt ?? ''}\n`);
        return EXIT.ok;
      })(),
    );
}
