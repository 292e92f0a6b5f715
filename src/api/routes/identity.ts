import { z } from 'zod';
import { actorOf, issueToken } from '../../identity/index.js';
import { defineRoute } from '../route.js';

const principalSchema = z.object({
  id: z.string(),
  name: z.string(),
  kind: z.enum(['human', 'service', 'agent']),
  roles: z.array(z.string()),
  createdAt: z.string(),
});

const issueTokenBody = z.strictObject({
  name: z.string().trim().min(1).max(100).describe('What the token is for, e.g. "ci-pipeline".'),
  expiresInDays: z.number().int().min(1).max(3650).optional().describe('Omit for a token that does not expire.'),
});

const issuedTokenSchema = z.object({
  id: z.string(),
  name: z.string(),
  principalId: z.string(),
  token: z.string().describe('The secret. Shown only in this response; store it now.'),
  createdAt: z.string(),
  expiresAt: z.string().nullable(),
});

export const identityRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/whoami',
    operationId: 'getCurrentPrincipal',
    summary: 'The principal the bearer token belongs to.',
    tags: ['identity'],
    auth: 'token',
    request: {},
    responses: { 200: { description: 'the calling principal', schema: principalSchema } },
    handler: async ({ principal }) => {
      const p = principal!;
      return { json: { id: p.id, name: p.name, kind: p.kind, roles: p.roles, createdAt: p.createdAt } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/tokens',
    operationId: 'issueOwnToken',
    summary: 'Issues a new API token for the calling principal (for rotation); the secret is returned once.',
    tags: ['identity'],
    auth: 'token',
    request: { body: issueTokenBody },
    responses: { 201: { description: 'issued', schema: issuedTokenSchema } },
    handler: async ({ body, principal, deps, requestId }) => {
      const p = principal!;
      const expiresAt =
        body.expiresInDays === undefined ? undefined : new Date(Date.now() + body.expiresInDays * 86_400_000).toISOString();
      const issued = await issueToken(
        deps.db,
        { principalId: p.id, name: body.name, ...(expiresAt ? { expiresAt } : {}) },
        { actor: actorOf(p), requestId },
      );
      return { status: 201, json: issued };
    },
  }),
];
