import { z } from 'zod';
import { plainText, ValidationFailed } from '../../core/index.js';
import {
  BREAK_GLASS_ROLE,
  changeContextOf,
  DEFAULT_BREAK_GLASS_MAX_MINUTES,
  endElevation,
  issueToken,
  listTokens,
  MIN_BREAK_GLASS_REASON_LENGTH,
  revokeToken,
  startElevation,
} from '../../identity/index.js';
import { on } from '../authorize.js';
import { defineRoute } from '../route.js';
import { issuedTokenSchema, principalRoutes, principalSchema, requestedToken, tokenInfoSchema, tokenRequestSchema } from './principals.js';

const elevationSchema = z.object({
  id: z.string(),
  principalId: z.string(),
  reason: z.string(),
  startedAt: z.string(),
  expiresAt: z.string(),
  endedAt: z.string().nullable(),
  endedBy: z.string().nullable(),
});

const whoamiSchema = principalSchema.extend({
  authenticatedBy: z.enum(['api_token', 'oidc']),
  scopes: z.array(z.string()),
  elevation: z.object({ id: z.string(), reason: z.string(), expiresAt: z.string() }).optional(),
});

const breakGlassBody = z.strictObject({
  reason: plainText(z.string().trim().min(MIN_BREAK_GLASS_REASON_LENGTH).max(1000)).describe('Why elevation is needed; recorded in the audit log and the alert.'),
  durationMinutes: z
    .number()
    .int()
    .min(1)
    .max(24 * 60)
    .optional()
    .describe(`At most the configured breakGlass.maxMinutes (default ${DEFAULT_BREAK_GLASS_MAX_MINUTES}); omitted: that maximum.`),
});

/** Self-service identity (any authenticated principal), break-glass, and principal administration. */
export const identityRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/whoami',
    operationId: 'getCurrentPrincipal',
    summary: 'The principal the credential belongs to, with the roles and scopes this request acts with.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.caller,
    request: {},
    responses: { 200: { description: 'the calling principal', schema: whoamiSchema } },
    handler: async ({ principal }) => {
      const { tokenId: _credential, authenticatedAt: _at, ...p } = principal!;
      return { json: p };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/tokens',
    operationId: 'issueOwnToken',
    summary: 'Issues a new API token for the calling principal (for rotation); never broader than the calling credential. The secret is returned once.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.caller,
    request: { body: tokenRequestSchema },
    responses: { 201: { description: 'issued', schema: issuedTokenSchema } },
    handler: async ({ body, principal, deps, requestId }) => {
      const p = principal!;
      const issued = await issueToken(
        deps.db,
        {
          principalId: p.id,
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
    path: '/api/v1/tokens',
    operationId: 'listOwnTokens',
    summary: 'The calling principal\'s tokens, newest first, without secrets.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.caller,
    request: {},
    responses: { 200: { description: 'tokens', schema: z.object({ tokens: z.array(tokenInfoSchema) }) } },
    handler: async ({ principal, deps }) => ({ json: { tokens: await listTokens(deps.db, principal!.id) } }),
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/tokens/:id',
    operationId: 'revokeToken',
    summary: 'Revokes a token at once; by its own principal or a platform-admin. Revoking twice changes nothing.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.tokenParam,
    request: { params: z.strictObject({ id: z.string().regex(/^tok_[0-9A-Z]{26}$/, 'must be a token id (tok_…)') }) },
    responses: { 200: { description: 'the revoked token', schema: tokenInfoSchema } },
    handler: async ({ params, principal, deps, requestId }) => ({
      json: await revokeToken(deps.db, { tokenId: params.id }, changeContextOf(principal!, requestId)),
    }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/break-glass',
    operationId: 'startBreakGlass',
    summary: `Elevates the caller (role ${BREAK_GLASS_ROLE}) to platform-admin until expiry; every action meanwhile is flagged in the audit log, and an alert fires.`,
    tags: ['identity'],
    auth: 'token',
    authorize: on.caller,
    request: { body: breakGlassBody },
    responses: { 201: { description: 'elevated', schema: elevationSchema } },
    handler: async ({ body, principal, deps, requestId, request }) => {
      const p = principal!;
      const max = deps.config.breakGlass.maxMinutes;
      if (body.durationMinutes !== undefined && body.durationMinutes > max) {
        throw new ValidationFailed(`durationMinutes must be at most the configured ${max}`, [
          { field: 'body.durationMinutes', message: `must be at most ${max} (breakGlass.maxMinutes)` },
        ]);
      }
      const elevation = await startElevation(
        deps.db,
        {
          principal: p,
          reason: body.reason,
          durationMinutes: body.durationMinutes ?? max,
          maxMinutes: max,
          alerts: request.log,
        },
        changeContextOf(p, requestId),
      );
      return { status: 201, json: elevation };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/break-glass',
    operationId: 'endBreakGlass',
    summary: 'Ends the caller\'s elevation before its expiry.',
    tags: ['identity'],
    auth: 'token',
    authorize: on.caller,
    request: {},
    responses: { 200: { description: 'the ended elevation', schema: elevationSchema } },
    handler: async ({ principal, deps, requestId }) => ({
      json: await endElevation(deps.db, { principal: principal! }, changeContextOf(principal!, requestId)),
    }),
  }),
  ...principalRoutes,
];
