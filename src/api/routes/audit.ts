import { z } from 'zod';
import {
  auditStatus,
  listAuditEntries,
  latestCheckpoint,
  logVerifierKey,
  MAX_LEAVES_PER_CALL,
  proveConsistency,
  proveInclusion,
  publishedKeys,
  readLeaves,
  verifyAuditLogSnapshot,
} from '../../audit/index.js';
import { AssayError, KEYID_PATTERN, NotFound, type Keyring } from '../../core/index.js';
import { on } from '../authorize.js';
import { decimalInteger } from '../fields.js';
import { defineRoute } from '../route.js';

// Who reads the log is Cedar policy (audit.read-log: administrators and auditors).

// These shapes are a public contract: independent verifiers are written against them. The tree
// store names a refused value bare (`end`); the routes name it as sent (`query.end`).
const count = decimalInteger({ min: 0, max: Number.MAX_SAFE_INTEGER });
const proofSchema = z.object({ proof: z.array(z.string().describe('base64 of a 32-byte hash')) });
const b64 = (hashes: Buffer[]): string[] => hashes.map((h) => h.toString('base64'));

const keyid = z
  .string()
  .regex(KEYID_PATTERN, 'must be a key id: 64 lowercase hexadecimal characters (SHA-256 of the raw Ed25519 public key)')
  .describe('the `keyid` of a DSSE signature (lowercase hex SHA-256 of the raw Ed25519 public key)');

/** The raw public key of `id`, active or retired; 404 naming `field` (as the client sent it) when the keyring never held it. */
function knownKey(keyring: Keyring, id: string, field: string): { publicKey: Buffer } {
  const publicKey = keyring.publicKey(id);
  if (publicKey === undefined) {
    throw new AssayError('not_found', `no signing key ${id}: this installation has never signed with it`, {
      errors: [{ field, message: 'names no key of this installation, active or retired' }],
    });
  }
  return { publicKey };
}

export const auditRoutes = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/public-key',
    operationId: 'getAuditPublicKey',
    summary:
      'The log\'s C2SP note verifier key: name+hexkeyid+base64(0x01‖pubkey). The active key, or with `keyid` the key that made ' +
      'a signature, retired ones too (a manifest or checkpoint signed before a rotation).',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    // Not strict: the route took no query before, so parameters it ignored stay ignored.
    request: { query: z.object({ keyid: keyid.optional() }) },
    responses: {
      200: { description: 'verifier key', contentType: 'text/plain' },
      404: { description: 'keyid names no key this installation has signed with (errors name query.keyid)', contentType: 'application/problem+json' },
    },
    handler: async ({ deps, query }) => ({
      text: (await logVerifierKey(deps.db, query.keyid === undefined ? deps.keyring.active() : knownKey(deps.keyring, query.keyid, 'query.keyid'))) + '\n',
      contentType: 'text/plain; charset=utf-8',
    }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/public-keys',
    operationId: 'listAuditPublicKeys',
    summary: 'Every key this installation has signed with, oldest first: the active one and every retired one, public halves only.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {},
    responses: {
      200: {
        description: 'the keys',
        schema: z.object({
          keys: z.array(
            z.object({
              keyid: z.string().describe('lowercase hex SHA-256 of the raw 32-byte public key: the keyid a DSSE signature names'),
              algorithm: z.literal('ed25519'),
              publicKey: z.string().describe('the C2SP note verifier key name+hexkeyid+base64(0x01‖pubkey), as GET /api/v1/audit/public-key serves it'),
              status: z.enum(['active', 'retired']),
              createdAt: z.string().describe('ISO-8601: the key signed from then'),
              retiredAt: z.string().nullable().describe('ISO-8601: the rotation that replaced it; null while active'),
            }),
          ),
        }),
      },
    },
    handler: async ({ deps }) => ({ json: { keys: await publishedKeys(deps.db, deps.keyring.list()) } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/checkpoint',
    operationId: 'getAuditCheckpoint',
    summary: 'The latest signed checkpoint (C2SP tlog-checkpoint in a signed note).',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {},
    responses: { 200: { description: 'checkpoint note', contentType: 'text/plain' } },
    handler: async ({ deps }) => {
      const cp = await latestCheckpoint(deps.db);
      if (!cp) throw new NotFound('checkpoint', 'latest (the log is still empty)');
      return { text: cp.note, contentType: 'text/plain; charset=utf-8' };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/leaves',
    operationId: 'getAuditLeaves',
    summary: `Exact leaf bytes of [start, end), at most ${MAX_LEAVES_PER_CALL} per call.`,
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: { query: z.object({ start: count, end: count }) },
    responses: { 200: { description: 'leaves', schema: z.object({ leaves: z.array(z.string().describe('base64 of the leaf bytes')) }) } },
    handler: async ({ deps, query }) => ({ json: { leaves: b64(await readLeaves(deps.db, query)) } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/proof/inclusion',
    operationId: 'getAuditInclusionProof',
    summary: 'RFC 9162 inclusion proof of leaf `index` in the tree of `size` leaves.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: { query: z.object({ index: count, size: count }) },
    responses: { 200: { description: 'proof', schema: proofSchema } },
    handler: async ({ deps, query }) => ({ json: { proof: b64(await proveInclusion(deps.db, query)) } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/proof/consistency',
    operationId: 'getAuditConsistencyProof',
    summary: 'RFC 9162 consistency proof between tree sizes `from` and `to`.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: { query: z.object({ from: count, to: count }) },
    responses: { 200: { description: 'proof', schema: proofSchema } },
    handler: async ({ deps, query }) => ({ json: { proof: b64(await proveConsistency(deps.db, query)) } }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/verify',
    operationId: 'verifyAuditLog',
    summary: 'Recomputes the whole tree from the stored leaves and entries and checks every checkpoint; names the first problem.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {},
    responses: {
      200: {
        description: 'verification report (ok false names the first bad index and the kind of damage)',
        schema: z.union([
          z.object({ ok: z.literal(true), size: z.number(), checkpoints: z.number() }),
          z.object({
            ok: z.literal(false),
            problem: z.object({ kind: z.string(), index: z.number().optional(), checkpointSize: z.number().optional(), detail: z.string() }),
          }),
        ]),
      },
    },
    handler: async ({ deps }) => {
      const publicKeys = deps.keyring.list().map((k) => Buffer.from(k.publicKey, 'base64'));
      return { json: await verifyAuditLogSnapshot({ db: deps.db, publicKeys }) };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/status',
    operationId: 'getAuditStatus',
    summary: 'Monitoring: log size, entries waiting to be sequenced, sequencer lag and checkpoint age.',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {},
    responses: {
      200: {
        description: 'status',
        schema: z.object({
          size: z.number(),
          pending: z.number(),
          sequencerLagSeconds: z.number(),
          latestCheckpointSize: z.number().nullable(),
          checkpointAgeSeconds: z.number().nullable(),
        }),
      },
    },
    handler: async ({ deps }) => ({ json: await auditStatus(deps.db) }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/audit/entries',
    operationId: 'searchAuditEntries',
    summary: 'Searches entries by actor, action, resource and time; pages with `cursor` (the previous page\'s `nextCursor`).',
    tags: ['audit'],
    auth: 'token',
    authorize: on.auditLog,
    request: {
      query: z.strictObject({
        actor: z.string().min(1).optional().describe('principal id'),
        action: z.string().min(1).optional(),
        resource: z.string().min(1).optional().describe('resource id'),
        from: z.iso.datetime({ offset: true }).optional().describe('inclusive, ISO-8601'),
        to: z.iso.datetime({ offset: true }).optional().describe('exclusive, ISO-8601'),
        limit: decimalInteger({ min: 1, max: 1000 }).default(100),
        cursor: z.string().regex(/^aud_[0-9A-Z]{26}$/, 'must be a nextCursor from a previous page').optional(),
      }),
    },
    responses: {
      200: {
        description: 'a page of entries, oldest first',
        schema: z.object({ entries: z.array(z.record(z.string(), z.unknown())), nextCursor: z.string().nullable() }),
      },
    },
    handler: async ({ deps, query }) => {
      const entries = await listAuditEntries(deps.db, {
        ...(query.actor ? { principalId: query.actor } : {}),
        ...(query.action ? { action: query.action } : {}),
        ...(query.resource ? { resourceId: query.resource } : {}),
        ...(query.from ? { from: query.from } : {}),
        ...(query.to ? { to: query.to } : {}),
        ...(query.cursor ? { after: query.cursor } : {}),
        limit: query.limit,
      });
      const last = entries[entries.length - 1];
      return { json: { entries, nextCursor: entries.length === query.limit && last ? last.id : null } };
    },
  }),
];
