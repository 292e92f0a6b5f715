import { z } from 'zod';
import { plainText } from '../../core/index.js';
import {
  eraseAuditPayload,
  getAuditPayload,
  getLegalHold,
  holdsCoveringPayload,
  listAuditPayloads,
  listLegalHolds,
  placeLegalHold,
  placeLegalHoldSchema,
  purgeExpiredPayloads,
  readAuditPayload,
  releaseLegalHold,
  describeRetention,
  type AuditContext,
} from '../../audit/index.js';
import { actorOf, type AuthenticatedPrincipal } from '../../identity/index.js';
import { on } from '../authorize.js';
import { decimalInteger } from '../fields.js';
import { defineRoute } from '../route.js';

// Who may do what is Cedar policy: src/policy/packs/default/audit.cedar (payload bytes only for
// compliance and security officers, records for auditors too, erasure and hold release for
// compliance alone).

const sha256Param = z.strictObject({ sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hexadecimal characters') });
const holdIdParam = z.strictObject({ id: z.string().regex(/^hold_[0-9A-Z]{26}$/, 'must be a legal hold id (hold_…)') });
const iso = z.string().describe('ISO-8601 UTC');

const payloadSchema = z.object({
  sha256: z.string(),
  class: z.string(),
  mediaType: z.string(),
  size: z.number(),
  subjectIds: z.array(z.string()),
  storedAt: iso,
  hotUntil: iso,
  retainUntil: iso.describe('erasure before this needs overrideMinimum'),
  purgeAfter: iso.describe('the bytes are purged after this unless a legal hold covers them'),
  state: z.enum(['stored', 'erased', 'purged']),
  erasedAt: iso.nullable(),
  erasedBy: z.string().nullable(),
  eraseEntryId: z.string().nullable(),
  purgedAt: iso.nullable(),
  purgeEntryId: z.string().nullable(),
});

const holdSchema = z.object({
  id: z.string(),
  caseId: z.string(),
  scope: z.record(z.string(), z.unknown()),
  reason: z.string(),
  placedBy: z.string(),
  placedAt: iso,
  placeEntryId: z.string(),
  active: z.boolean(),
  releasedAt: iso.nullable(),
  releasedBy: z.string().nullable(),
  releaseReason: z.string().nullable(),
  releaseEntryId: z.string().nullable(),
});

const purgeReportSchema = z.object({
  dryRun: z.boolean(),
  now: iso,
  purged: z.array(z.object({ sha256: z.string(), class: z.string(), purgeAfter: iso, entryId: z.string().nullable() })),
  held: z.array(z.object({ sha256: z.string(), class: z.string(), purgeAfter: iso, holdIds: z.array(z.string()) })),
  more: z.boolean().describe('more payloads are due than the limit allowed: run again'),
});

const problem = (description: string) => ({ description, contentType: 'application/problem+json' });
const reason = plainText(z.string().trim().min(1).max(2000));

function auditContext(ctx: { principal: AuthenticatedPrincipal | undefined; requestId: string }): AuditContext {
  return { actor: actorOf(ctx.principal!), requestId: ctx.requestId };
}

export const auditPayloadRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/payloads',
    operationId: 'listAuditPayloads',
    summary: 'Payload records (never their bytes) by data subject, class or state, in hash order; pages with `cursor`.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {
      query: z.strictObject({
        subject: z.string().min(1).max(200).optional().describe('data subject id'),
        class: z.string().min(1).optional(),
        state: z.enum(['stored', 'erased', 'purged']).optional(),
        limit: decimalInteger({ min: 1, max: 1000 }).default(100),
        cursor: z.string().regex(/^[0-9a-f]{64}$/, 'must be a nextCursor from a previous page').optional(),
      }),
    },
    responses: { 200: { description: 'a page of payload records', schema: z.object({ payloads: z.array(payloadSchema), nextCursor: z.string().nullable() }) } },
    handler: async ({ deps, query }) => {
      const payloads = await listAuditPayloads(deps.db, {
        ...(query.subject ? { subjectId: query.subject } : {}),
        ...(query.class ? { class: query.class } : {}),
        ...(query.state ? { state: query.state } : {}),
        ...(query.cursor ? { after: query.cursor } : {}),
        limit: query.limit,
      });
      const last = payloads[payloads.length - 1];
      return { json: { payloads, nextCursor: payloads.length === query.limit && last ? last.sha256 : null } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/payloads/:sha256',
    operationId: 'getAuditPayload',
    summary: 'A payload record: class, deadlines, subjects, what became of the bytes, and the active legal holds covering it.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.payloadParam,
    request: { params: sha256Param },
    responses: {
      200: {
        description: 'the record',
        schema: payloadSchema.extend({ legalHolds: z.array(z.object({ id: z.string(), caseId: z.string() })) }),
      },
      404: problem('no payload was stored under this hash'),
    },
    handler: async ({ deps, params }) => {
      const payload = await getAuditPayload(deps.db, params.sha256);
      return { json: { ...payload, legalHolds: await holdsCoveringPayload(deps.db, params.sha256) } };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/payloads/:sha256/content',
    operationId: 'readAuditPayload',
    summary: 'The payload bytes (base64), verified against the hash. Every read is recorded as an audit.payload.read entry first.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.payloadParam,
    request: {
      params: sha256Param,
      query: z.strictObject({ reason: plainText(z.string().trim().min(1).max(2000)).optional().describe('why you read it (recorded)') }),
    },
    responses: {
      200: {
        description: 'the bytes',
        schema: z.object({ sha256: z.string(), mediaType: z.string(), size: z.number(), contentBase64: z.string() }),
      },
      404: problem('no such payload, or its bytes were erased or purged (the detail says which)'),
    },
    handler: async (ctx) => {
      const { payload, bytes } = await readAuditPayload(
        { db: ctx.deps.db, blobs: ctx.deps.auditPayloads },
        ctx.params.sha256,
        { ...auditContext(ctx), ...(ctx.query.reason ? { reason: ctx.query.reason } : {}) },
      );
      // Sensitive content: no cache may keep a copy.
      void ctx.reply.header('cache-control', 'no-store');
      return { json: { sha256: payload.sha256, mediaType: payload.mediaType, size: payload.size, contentBase64: bytes.toString('base64') } };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/audit/payloads/:sha256/erase',
    operationId: 'eraseAuditPayload',
    summary:
      'Erases the payload bytes (GDPR Art. 17), keeping hash and record and appending an audit.payload.erase entry. 409 while a legal hold covers it, or before the class minimum without overrideMinimum.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.payloadParam,
    request: {
      params: sha256Param,
      body: z.strictObject({
        reason: reason.describe('the erasure request and its reference (recorded)'),
        overrideMinimum: z.boolean().default(false).describe('erase before the retention minimum (a recorded decision, GDPR Art. 17(3)(b))'),
      }),
    },
    responses: {
      200: { description: 'the record, now erased', schema: payloadSchema },
      404: problem('no payload was stored under this hash'),
      409: problem('under legal hold (names hold and case), before the minimum, or already erased or purged'),
    },
    handler: async (ctx) => {
      const payload = await eraseAuditPayload(
        { db: ctx.deps.db, blobs: ctx.deps.auditPayloads },
        { sha256: ctx.params.sha256, reason: ctx.body.reason, overrideMinimum: ctx.body.overrideMinimum },
        auditContext(ctx),
      );
      return { json: payload };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/holds',
    operationId: 'listLegalHolds',
    summary: 'Legal holds in the order placed; `active=true` for those in force only.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: { query: z.strictObject({ active: z.enum(['true', 'false']).optional() }) },
    responses: { 200: { description: 'holds', schema: z.object({ holds: z.array(holdSchema) }) } },
    handler: async ({ deps, query }) => ({
      json: { holds: await listLegalHolds(deps.db, query.active === undefined ? {} : { active: query.active === 'true' }) },
    }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/audit/holds',
    operationId: 'placeLegalHold',
    summary: 'Places a legal hold: nothing in its scope is erased or purged until it is released. An empty scope covers every payload.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: { body: placeLegalHoldSchema },
    responses: { 201: { description: 'the hold', schema: holdSchema } },
    handler: async (ctx) => {
      const hold = await placeLegalHold({ db: ctx.deps.db, retention: ctx.deps.config.audit.retention }, ctx.body, auditContext(ctx));
      return { status: 201, json: hold };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/holds/:id',
    operationId: 'getLegalHold',
    summary: 'One legal hold.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.holdParam,
    request: { params: holdIdParam },
    responses: { 200: { description: 'the hold', schema: holdSchema }, 404: problem('no such hold') },
    handler: async ({ deps, params }) => ({ json: await getLegalHold(deps.db, params.id) }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/audit/holds/:id/release',
    operationId: 'releaseLegalHold',
    summary: 'Releases a legal hold (once); what it covered may then be erased or purged.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.holdParam,
    request: { params: holdIdParam, body: z.strictObject({ reason }) },
    responses: { 200: { description: 'the released hold', schema: holdSchema }, 404: problem('no such hold'), 409: problem('already released') },
    handler: async (ctx) => ({
      json: await releaseLegalHold({ db: ctx.deps.db }, { id: ctx.params.id, reason: ctx.body.reason }, auditContext(ctx)),
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/retention',
    operationId: 'getAuditRetention',
    summary: 'Retention per payload class (ISO 8601 durations: minimum, hot, maximum) and the purge schedule.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {},
    responses: {
      200: {
        description: 'the policy',
        schema: z.object({
          classes: z.record(z.string(), z.object({ minimum: z.string(), hot: z.string(), maximum: z.string() })),
          purgeIntervalSeconds: z.number().describe('0: no schedule'),
        }),
      },
    },
    handler: async ({ deps }) => ({
      json: { classes: describeRetention(deps.config.audit.retention), purgeIntervalSeconds: deps.config.audit.purgeIntervalSeconds },
    }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/audit/purge',
    operationId: 'purgeAuditPayloads',
    summary: 'Purges now the bytes of payloads past their maximum that no legal hold covers (one audit entry each); dryRun only reports.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {
      body: z.strictObject({
        dryRun: z.boolean().default(false),
        limit: z.number().int().min(1).max(10_000).default(1000).describe('most payloads purged or reported by this call'),
      }),
    },
    responses: { 200: { description: 'what was (or would be) purged, and what holds keep', schema: purgeReportSchema } },
    handler: async (ctx) => ({
      json: await purgeExpiredPayloads({
        db: ctx.deps.db,
        blobs: ctx.deps.auditPayloads,
        dryRun: ctx.body.dryRun,
        limit: ctx.body.limit,
        ...auditContext(ctx),
      }),
    }),
  }),
];
