import type { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AssayConfig, Keyring } from '../core/index.js';
import type { AuthenticatedPrincipal } from '../identity/index.js';
import type { LineageEmitter } from '../lineage/index.js';
import type { AssayMetrics } from '../monitor/index.js';
import type { PolicyEngine, ResourceInput } from '../policy/index.js';
import type { BlobStore, Db } from '../store/index.js';

/** What every route handler may use. */
export interface AppDeps {
  config: AssayConfig;
  db: Db;
  blobs: BlobStore;
  /** Audit payloads: a store of their own, so erasing one never deletes a shared blob. */
  auditPayloads: BlobStore;
  keyring: Keyring;
  /** Decides every token route (the route's operationId is the Cedar action), loaded once at start. */
  policy: PolicyEngine;
  /** This process's Prometheus registry and the instruments the domain updates. */
  metrics: AssayMetrics;
  /** OpenLineage out (`lineage.emitUrl`); absent when no consumer is configured. */
  lineageEmitter?: LineageEmitter | undefined;
  version: string;
}

type Schemas = { params?: z.ZodType; query?: z.ZodType; body?: z.ZodType };
type Parsed<T> = T extends z.ZodType ? z.output<T> : undefined;

/** The validated request a handler receives. */
export interface RouteContext<S extends Schemas> {
  params: Parsed<S['params']>;
  query: Parsed<S['query']>;
  body: Parsed<S['body']>;
  /** Present on every route whose `auth` is `token`. */
  principal: AuthenticatedPrincipal | undefined;
  requestId: string;
  deps: AppDeps;
  request: FastifyRequest;
  reply: FastifyReply;
}

/**
 * A handler's answer: JSON by default, text with an explicit content type, or a file: its
 * headers (Content-Type, Content-Length…) and a stream of its bytes, piped as they are read;
 * no stream answers the headers alone (HEAD). A stream failing after its first bytes left
 * destroys the connection, so the client sees a body shorter than its Content-Length.
 */
export type RouteReply =
  | { status?: number; json: unknown }
  | { status?: number; text: string; contentType: string }
  | { status?: number; file: Readable | undefined; headers: Record<string, string> };

/** One documented response of a route. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
  /** The body is a file of `contentType`, bytes rather than a document (OpenAPI: a binary string). */
  binary?: boolean;
  /** Response headers a client may rely on, by name. */
  headers?: Record<string, { description: string; type: 'string' | 'integer' }>;
}

/**
 * What the authorisation step sees: the request before its body is read. Params and query are
 * Fastify's raw strings, not yet validated, so resource builders treat them as untrusted text.
 */
export interface AuthorizeInput {
  params: Readonly<Record<string, string | undefined>>;
  query: Readonly<Record<string, unknown>>;
  principal: AuthenticatedPrincipal;
  deps: AppDeps;
}

/**
 * How a token route is authorised: the Cedar action is the route's operationId; this builds
 * the resource it acts on (a lookup, such as a token's owner, may make it async).
 */
export interface RouteAuthorization {
  resource(input: AuthorizeInput): ResourceInput | Promise<ResourceInput>;
}

interface RouteBase<S extends Schemas> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path syntax, e.g. `/api/v1/tokens/:id`. */
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  request: S;
  /**
   * Media types the request body may be sent as when it is not JSON (the ingest route's files,
   * read from the raw stream); a route with a body schema takes JSON. Any other type is 415
   * naming `headers.content-type`, before the body is read.
   */
  accepts?: readonly string[];
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<S>): Promise<RouteReply>;
}

/**
 * One HTTP operation. The same zod schemas validate requests and generate the OpenAPI
 * document, so the two cannot drift apart. A token route cannot be declared without saying
 * how the policy engine decides it.
 */
export type RouteSpec<S extends Schemas = Schemas> = RouteBase<S> &
  (
    | { auth: 'none' }
    | {
        /** A valid bearer token is required, then the policy engine decides, before the body is read. */
        auth: 'token';
        authorize: RouteAuthorization;
      }
  );

/** Declares a route with its handler's context typed from its schemas. */
export function defineRoute<S extends Schemas>(spec: RouteSpec<S>): RouteSpec {
  return spec as unknown as RouteSpec;
}
