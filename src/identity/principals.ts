import { Conflict, type FieldIssue, newId, NotFound, plainTextIssues, ValidationFailed } from '../core/index.js';
import type { Db, Queryable, Tx } from '../store/index.js';
import { insertToken, type IssuedToken } from './api-tokens.js';
import type { ScopeRules } from './tokens.js';
import { principalAttributesSchema, type PrincipalAttributes } from './attributes.js';
import { changeTime, recordChange } from './evidence.js';
import { BUILT_IN_ROLES, isRole, PLATFORM_ADMIN_ROLE } from './roles.js';
import { principalColumns, toPrincipal, type PrincipalRow } from './rows.js';
import { PRINCIPAL_KINDS, type ChangeContext, type Principal, type PrincipalKind } from './types.js';

/** Names of principals created through the API: OIDC principals are named `<issuer>:<subject>`, so they never collide. */
export const PRINCIPAL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/;

/** Serialises changes that could leave no platform administrator (and concurrent bootstraps). */
const ADMIN_LOCK_KEY = 0x61646d696e;

/** What `insertPrincipal` writes. */
export interface PrincipalRecord {
  name: string;
  kind: PrincipalKind;
  roles: string[];
  attributes: PrincipalAttributes;
  oidc?: { issuer: string; subject: string };
}

/** Inserts a principal inside the caller's transaction, with its audit entry; a taken name is a Conflict. */
export async function insertPrincipal(tx: Tx, input: PrincipalRecord & { id: string }, ctx: ChangeContext): Promise<Principal> {
  const createdBy = ctx.actor.kind === 'system' || ctx.actor.principalId === input.id ? null : ctx.actor.principalId;
  const r = await tx.query<PrincipalRow>(
    `INSERT INTO principals (id, name, kind, roles, attributes, created_by, created_at, oidc_issuer, oidc_subject)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT DO NOTHING RETURNING ${principalColumns('principals')}`,
    [
      input.id,
      input.name,
      input.kind,
      input.roles,
      JSON.stringify(input.attributes),
      createdBy,
      changeTime(ctx).toISOString(),
      input.oidc?.issuer ?? null,
      input.oidc?.subject ?? null,
    ],
  );
  const row = r.rows[0];
  if (!row) throw new Conflict(`a principal named ${input.name} already exists`, [{ field: 'name', message: 'already exists' }]);
  await recordChange(tx, ctx, {
    action: 'principal.create',
    resource: { type: 'principal', id: input.id },
    reason: ctx.reason ?? `${input.kind} ${input.name} with roles ${input.roles.join(', ') || 'none'}`,
  });
  return toPrincipal(row);
}

/** What `createPrincipal` needs. */
export interface CreatePrincipalInput {
  name: string;
  kind: PrincipalKind;
  roles: readonly string[];
  /** Validated with `principalAttributesSchema`. @default {} */
  attributes?: unknown;
}

function checkRoles(roles: readonly string[], field: string): FieldIssue[] {
  return roles.flatMap((r, i) => (isRole(r) ? [] : [{ field: `${field}.${i}`, message: `must be one of ${BUILT_IN_ROLES.join(', ')}` }]));
}

function parseAttributes(value: unknown, field: string): { attributes: PrincipalAttributes; issues: FieldIssue[] } {
  const r = principalAttributesSchema.safeParse(value ?? {});
  if (r.success) return { attributes: r.data, issues: [] };
  const issues = r.error.issues.flatMap((i) => {
    const base = [field, ...i.path.map(String)].join('.');
    return i.code === 'unrecognized_keys' ? i.keys.map((k) => ({ field: `${base}.${k}`, message: 'unknown attribute' })) : [{ field: base, message: i.message }];
  });
  return { attributes: {}, issues };
}

function validateNew(input: CreatePrincipalInput): PrincipalRecord {
  const issues: FieldIssue[] = [];
  if (!PRINCIPAL_NAME_PATTERN.test(input.name)) {
    issues.push({ field: 'name', message: 'must start with a letter or digit and use only letters, digits, ".", "_", "@", "-" (at most 128)' });
  }
  if (!(PRINCIPAL_KINDS as readonly string[]).includes(input.kind)) issues.push({ field: 'kind', message: `must be one of ${PRINCIPAL_KINDS.join(', ')}` });
  issues.push(...checkRoles(input.roles, 'roles'));
  const attrs = parseAttributes(input.attributes, 'attributes');
  issues.push(...attrs.issues);
  if (issues.length > 0) throw new ValidationFailed(`invalid principal: ${issues.map((i) => i.field).join(', ')}`, issues);
  return { name: input.name, kind: input.kind, roles: [...new Set(input.roles)].sort(), attributes: attrs.attributes };
}

/** Creates a principal with built-in roles and validated attributes, audited in the same transaction; a taken name is a Conflict. */
export async function createPrincipal(db: Db, input: CreatePrincipalInput, ctx: ChangeContext): Promise<Principal> {
  const record = validateNew(input);
  return db.transaction((tx) => insertPrincipal(tx, { ...record, id: newPrincipalId() }, ctx));
}

/** What `enrolPrincipal` needs: a principal, and optionally its first token. */
export interface EnrolPrincipalInput extends CreatePrincipalInput {
  token?: { name: string; expiresAt?: string; scopes?: readonly string[]; scopeRules?: ScopeRules };
}

/** Creates a principal and, when asked, its first token, in one transaction: both or neither. */
export async function enrolPrincipal(
  db: Db,
  input: EnrolPrincipalInput,
  ctx: ChangeContext,
): Promise<{ principal: Principal; token?: IssuedToken }> {
  const record = validateNew(input);
  return db.transaction(async (tx) => {
    const principal = await insertPrincipal(tx, { ...record, id: newPrincipalId() }, ctx);
    if (!input.token) return { principal };
    const token = await insertToken(tx, { principalId: principal.id, ...input.token }, ctx);
    return { principal, token };
  });
}

/** Filters of `listPrincipals`. */
export interface PrincipalQuery {
  name?: string;
  kind?: PrincipalKind;
  /** true: only disabled; false: only enabled; absent: both. */
  disabled?: boolean;
  /** Principals after this id (the previous page's `nextCursor`). */
  after?: string;
  /** @default 100 */
  limit?: number;
}

/** Principals matching the filters in id (creation) order, with the cursor of the next page (null on the last). */
export async function listPrincipals(db: Queryable, q: PrincipalQuery = {}): Promise<{ principals: Principal[]; nextCursor: string | null }> {
  const limit = q.limit ?? 100;
  const r = await db.query<PrincipalRow>(
    `SELECT ${principalColumns('p')} FROM principals p
      WHERE ($1::text IS NULL OR p.name = $1)
        AND ($2::text IS NULL OR p.kind = $2)
        AND ($3::boolean IS NULL OR (p.disabled_at IS NOT NULL) = $3)
        AND ($4::text IS NULL OR p.id > $4)
      ORDER BY p.id LIMIT $5`,
    [q.name ?? null, q.kind ?? null, q.disabled ?? null, q.after ?? null, limit + 1],
  );
  const page = r.rows.slice(0, limit).map(toPrincipal);
  return { principals: page, nextCursor: r.rows.length > limit ? (page.at(-1)?.id ?? null) : null };
}

/** The principal with this id, or NotFound. */
export async function getPrincipal(db: Queryable, id: string): Promise<Principal> {
  const r = await db.query<PrincipalRow>(`SELECT ${principalColumns('p')} FROM principals p WHERE p.id = $1`, [id]);
  const row = r.rows[0];
  if (!row) throw new NotFound('principal', id);
  return toPrincipal(row);
}

/** What `updatePrincipal` may change; absent fields stay as they are. */
export interface UpdatePrincipalInput {
  id: string;
  /** Replaces the roles (built-in only). Refused for OIDC principals: their roles come from the identity provider. */
  roles?: readonly string[];
  /** Replaces the attributes. */
  attributes?: unknown;
  /** true disables the principal (its credentials stop working at once); false enables it again. */
  disabled?: boolean;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

async function enabledAdminsBesides(tx: Tx, id: string): Promise<number> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_LOCK_KEY]);
  const r = await tx.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM principals WHERE $1 = ANY(roles) AND disabled_at IS NULL AND id <> $2`,
    [PLATFORM_ADMIN_ROLE, id],
  );
  return r.rows[0]?.n ?? 0;
}

/**
 * Changes roles, attributes or the disabled flag, with one audit entry per kind of change, all
 * in one transaction. Refuses (Conflict) to leave no enabled platform administrator.
 */
export async function updatePrincipal(db: Db, input: UpdatePrincipalInput, ctx: ChangeContext): Promise<Principal> {
  const issues = input.roles ? checkRoles(input.roles, 'roles') : [];
  issues.push(...plainTextIssues([['reason', ctx.reason]]));
  const attrs = input.attributes === undefined ? undefined : parseAttributes(input.attributes, 'attributes');
  issues.push(...(attrs?.issues ?? []));
  if (issues.length > 0) throw new ValidationFailed(`invalid change: ${issues.map((i) => i.field).join(', ')}`, issues);
  return db.transaction(async (tx) => {
    const found = await tx.query<PrincipalRow>(`SELECT ${principalColumns('p')} FROM principals p WHERE p.id = $1 FOR UPDATE`, [input.id]);
    const row = found.rows[0];
    if (!row) throw new NotFound('principal', input.id);
    const before = toPrincipal(row);
    const roles = input.roles ? [...new Set(input.roles)].sort() : before.roles;
    const rolesChanged = !sameSet(roles, before.roles);
    if (rolesChanged && before.oidc) {
      throw new Conflict(`the roles of ${before.name} come from its OIDC issuer; change its groups there`, [
        { field: 'roles', message: 'managed by the identity provider' },
      ]);
    }
    const attributes = attrs ? attrs.attributes : before.attributes;
    const attributesChanged = JSON.stringify(sortKeys(attributes)) !== JSON.stringify(sortKeys(before.attributes));
    const disable = input.disabled === true && !before.disabledAt;
    const enable = input.disabled === false && Boolean(before.disabledAt);
    const losesAdmin = before.roles.includes(PLATFORM_ADMIN_ROLE) && !before.disabledAt && (disable || !roles.includes(PLATFORM_ADMIN_ROLE));
    if (losesAdmin && (await enabledAdminsBesides(tx, input.id)) === 0) {
      throw new Conflict('this change would leave no enabled platform-admin', [
        { field: disable ? 'disabled' : 'roles', message: 'the last enabled platform-admin must stay' },
      ]);
    }
    if (!rolesChanged && !attributesChanged && !disable && !enable) return before;
    const now = changeTime(ctx).toISOString();
    const updated = await tx.query<PrincipalRow>(
      `UPDATE principals SET roles = $2, attributes = $3,
              disabled_at = CASE WHEN $4::boolean THEN $6::timestamptz WHEN $5::boolean THEN NULL ELSE disabled_at END
        WHERE id = $1 RETURNING ${principalColumns('principals')}`,
      [input.id, roles, JSON.stringify(attributes), disable, enable, now],
    );
    const resource = { type: 'principal', id: input.id };
    const why = ctx.reason ? `: ${ctx.reason}` : '';
    if (rolesChanged) {
      await recordChange(tx, ctx, {
        action: 'principal.roles.set',
        resource,
        reason: `roles ${before.roles.join(', ') || 'none'} → ${roles.join(', ') || 'none'}${why}`,
      });
    }
    if (attributesChanged) {
      await recordChange(tx, ctx, {
        action: 'principal.attributes.set',
        resource,
        reason: `attributes ${JSON.stringify(sortKeys(before.attributes))} → ${JSON.stringify(sortKeys(attributes))}${why}`,
      });
    }
    if (disable) await recordChange(tx, ctx, { action: 'principal.disable', resource, reason: `disabled ${before.name}${why}` });
    if (enable) await recordChange(tx, ctx, { action: 'principal.enable', resource, reason: `enabled ${before.name}${why}` });
    const after = updated.rows[0];
    if (!after) throw new NotFound('principal', input.id);
    return toPrincipal(after);
  });
}

function sortKeys(o: PrincipalAttributes): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

/** What `bootstrapAdmin` did. */
export type BootstrapResult = { created: true; principal: Principal; token: IssuedToken } | { created: false; principal: Principal };

/**
 * Creates the first platform administrator and its token, once. Idempotent: when an
 * administrator exists, returns it and issues nothing.
 */
export async function bootstrapAdmin(db: Db, input: { name?: string } = {}): Promise<BootstrapResult> {
  return db.transaction(async (tx) => {
    // Serialise concurrent bootstraps so exactly one administrator is created.
    await tx.query('SELECT pg_advisory_xact_lock($1)', [ADMIN_LOCK_KEY]);
    const existing = await tx.query<PrincipalRow>(
      `SELECT ${principalColumns('p')} FROM principals p WHERE $1 = ANY(p.roles) ORDER BY p.created_at LIMIT 1`,
      [PLATFORM_ADMIN_ROLE],
    );
    const row = existing.rows[0];
    if (row) return { created: false, principal: toPrincipal(row) };
    const ctx: ChangeContext = {
      actor: { principalId: 'system', kind: 'system', authenticatedBy: 'local_bootstrap' },
      reason: 'assay init: first platform administrator',
    };
    const principal = await insertPrincipal(
      tx,
      { id: newPrincipalId(), name: input.name ?? 'admin', kind: 'human', roles: [PLATFORM_ADMIN_ROLE], attributes: {} },
      ctx,
    );
    const token = await insertToken(tx, { principalId: principal.id, name: 'bootstrap' }, ctx);
    return { created: true, principal, token };
  });
}

function newPrincipalId(): string {
  return newId('prn');
}
