import { z } from 'zod';
import { plainText } from '../../core/index.js';
import {
  BUILT_IN_ROLES,
  changeContextOf,
  enrolPrincipal,
  getPrincipal,
  issueToken,
  listPrincipals,
  listTokens,
  principalAttributesSchema,
  PRINCIPAL_KINDS,
  PRINCIPAL_NAME_PATTERN,
  updatePrincipal,
  type AuthenticatedPrincipal,
} from '../../identity/index.js';
import { on } from '../authorize.js';
import { decimalInteger } from '../fields.js';
import { defineRoute } from '../route.js';

const roleSchema = z.enum(BUILT_IN_ROLES);
const kindSchema = z.enum(PRINCIPAL_KINDS);
const principalId = z.strictObject({ id: z.string().regex(/^prn_[0-9A-Z]{26}$/, 'must be a principal id (prn_…)') });

/** A principal as the API shows it. */
export const principalSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: kindSchema,
  roles: z.array(z.string()),
  attributes: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  createdBy: z.string().nullable(),
  disabledAt: z.string().nullable(),
  oidc: z.object({ issuer: z.string(), subject: z.string() }).nullable(),
});

/** The fields that ask for a token, shared by self-service and administration. */
export const tokenRequestSchema = z.strictObject({
  name: plainText(z.string().trim().min(1).max(100)).describe('What the token is for, e.g. "ci-pipeline".'),
  expiresInDays: z.number().int().min(1).max(3650).optional().describe('Omit for a token that does not expire.'),
  scopes: z
    .array(z.string().min(1).max(120))
    .max(100)
    .optional()
    .describe('"read" (GET operations), "write" (other methods), operation ids, "role:<role>" (act with that role only). Default: read and write.'),
});

/** A token as listed: no secret. */
export const tokenInfoSchema = z.object({
  id: z.string(),
  name: z.string(),
  principalId: z.string(),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
  lastUsedAt: z.string().nullable().describe('Recorded at most once a minute.'),
});

/** A freshly issued token, secret included. */
export const issuedTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  principalId: z.string(),
  token: z.string().describe('The secret. Shown only in this response; store it now.'),
  scopes: z.array(z.string()),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});

/** The expiry of a token asked for `days` from the request's time. */
function expiryOf(principal: AuthenticatedPrincipal, days: number | undefined): { expiresAt?: string } {
  if (days === undefined) return {};
  return { expiresAt: new Date(Date.parse(principal.authenticatedAt) + days * 86_400_000).toISOString() };
}

/**
 * A token request as issueToken takes it, asked by `caller`: its expiry counted from the
 * request's time, its scopes checked against the API's operations (`deps.policy.actions`) and
 * refused naming `scopes.field`.
 */
export function requestedToken(
  caller: AuthenticatedPrincipal,
  wanted: { name: string; expiresInDays?: number | undefined; scopes?: string[] | undefined },
  scopes: { operationIds: readonly string[]; field: string },
): { name: string; expiresAt?: string; scopes?: string[]; scopeRules: { operationIds: readonly string[]; field: string } } {
  return { name: wanted.name, ...expiryOf(caller, wanted.expiresInDays), ...(wanted.scopes ? { scopes: wanted.scopes } : {}), scopeRules: scopes };
}

const createBody = z.strictObject({
  name: z.string().regex(PRINCIPAL_NAME_PATTERN, 'letters, digits, ".", "_", "@", "-"; starting with a letter or digit; at most 128'),
  kind: kindSchema.default('human'),
  roles: z.array(roleSchema).max(BUILT_IN_ROLES.length).default([]),
  attributes: principalAttributesSchema.default({}),
  token: tokenRequestSchema
    .partial({ name: true })
    .optional()
    .describe('Ask for a first token: the response then carries its secret as "token", once.'),
});

const patchBody = z
  .strictObject({
    roles: z.array(roleSchema).max(BUILT_IN_ROLES.length).optional().describe('Replaces the roles.'),
    attributes: principalAttributesSchema.optional().describe('Replaces the attributes.'),
    disabled: z.boolean().optional().describe('true: every credential of the principal stops working at once.'),
    reason: plainText(z.string().trim().min(1).max(500)).optional().describe('Recorded in the audit entries.'),
  })
  .refine((b) => b.roles !== undefined || b.attributes !== undefined || b.disabled !== undefined, {
    message: 'name at least one of roles, attributes, disabled',
  });

const listQuery = z.strictObject({
  name: z.string().min(1).max(300).optional(),
  kind: kindSchema.optional(),
  disabled: z.enum(['true', 'false']).transform((v) => v === 'true').optional(),
  after: z.string().min(1).max(40).optional().describe('nextCursor of the previous page'),
  limit: decimalInteger({ min: 1, max: 1000 }).default(100),
});

export const principalRoutes = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/principals',
    operationId: 'createPrincipal',
    summary: 'Creates a principal (human, service or agent) with built-in roles and attributes, optionally with its first token.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.platform,
    request: { body: createBody },
    responses: {
      201: {
        description: 'created; "token" (the secret) and "tokenId" only when a first token was asked for',
        schema: principalSchema.extend({ token: z.string().optional(), tokenId: z.string().optional() }),
      },
    },
    handler: async ({ body, principal, deps, requestId }) => {
      const p = principal!;
      const { token: wanted, ...input } = body;
      const token = wanted ? requestedToken(p, { ...wanted, name: wanted.name ?? 'initial' }, { operationIds: deps.policy.actions, field: 'body.token.scopes' }) : undefined;
      const created = await enrolPrincipal(deps.db, { ...input, ...(token ? { token } : {}) }, changeContextOf(p, requestId));
      return {
        status: 201,
        json: { ...created.principal, ...(created.token ? { token: created.token.token, tokenId: created.token.id } : {}) },
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/principals',
    operationId: 'listPrincipals',
    summary: 'Principals in creation order, filtered by name, kind or disabled state; page with `after`.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.platform,
    request: { query: listQuery },
    responses: { 200: { description: 'a page', schema: z.object({ principals: z.array(principalSchema), nextCursor: z.string().nullable() }) } },
    handler: async ({ query, deps }) => ({ json: await listPrincipals(deps.db, query) }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/principals/:id',
    operationId: 'getPrincipal',
    summary: 'One principal.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.principalParam,
    request: { params: principalId },
    responses: { 200: { description: 'the principal', schema: principalSchema } },
    handler: async ({ params, deps }) => ({ json: await getPrincipal(deps.db, params.id) }),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/api/v1/principals/:id',
    operationId: 'updatePrincipal',
    summary: 'Replaces roles or attributes, or disables / enables a principal; each kind of change is audited.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.principalParam,
    request: { params: principalId, body: patchBody },
    responses: { 200: { description: 'the principal after the change', schema: principalSchema } },
    handler: async ({ params, body, principal, deps, requestId }) => {
      const { reason, ...change } = body;
      const ctx = { ...changeContextOf(principal!, requestId), ...(reason ? { reason } : {}) };
      return { json: await updatePrincipal(deps.db, { id: params.id, ...change }, ctx) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/principals/:id/tokens',
    operationId: 'issuePrincipalToken',
    summary: 'Issues an API token for a principal; scopes may narrow its roles, never widen them. The secret is returned once.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.principalParam,
    request: { params: principalId, body: tokenRequestSchema },
    responses: { 201: { description: 'issued', schema: issuedTokenSchema } },
    handler: async ({ params, body, principal, deps, requestId }) => {
      const p = principal!;
      const issued = await issueToken(
        deps.db,
        {
          principalId: params.id,
          ...requestedToken(p, body, { operationIds: deps.policy.actions, field: 'body.scopes' }),
          issuedBy: p,
        },
        changeContextOf(p, requestId),
      );
      return { status: 201, json: issued };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/principals/:id/tokens',
    operationId: 'listPrincipalTokens',
    summary: 'The tokens of a principal, newest first, without secrets.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.principalParam,
    request: { params: principalId },
    responses: { 200: { description: 'tokens', schema: z.object({ tokens: z.array(tokenInfoSchema) }) } },
    handler: async ({ params, deps }) => ({ json: { tokens: await listTokens(deps.db, params.id) } }),
  }),
];
