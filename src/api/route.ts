import type { FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { AssayConfig, Keyring } from '../core/index.js';
import type { AuthenticatedPrincipal, Role } from '../identity/index.js';
import type { BlobStore, Db } from '../store/index.js';

/** What every route handler may use. */
export interface AppDeps {
  config: AssayConfig;
  db: Db;
  blobs: BlobStore;
  /** Audit payloads: a store of their own, so erasing one never deletes a shared blob. */
  auditPayloads: BlobStore;
  keyring: Keyring;
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

/** A handler's answer: JSON by default, or text with an explicit content type. */
export type RouteReply = { status?: number; json: unknown } | { status?: number; text: string; contentType: string };

/** One documented response of a route. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

/**
 * One HTTP operation. The same zod schemas validate requests and generate the OpenAPI
 * document, so the two cannot drift apart.
 */
export interface RouteSpec<S extends Schemas = Schemas> {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Fastify path syntax, e.g. `/api/v1/tokens/:id`. */
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  /** `token`: a valid bearer token is required before anything else happens. */
  auth: 'none' | 'token';
  /**
   * With `auth: 'token'`: the principal must hold one of these roles, checked before the body
   * is read; a refusal is audited. Absent: any authenticated principal.
   */
  roles?: readonly Role[];
  request: S;
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<S>): Promise<RouteReply>;
}

/** Declares a route with its handler's context typed from its schemas. */
export function defineRoute<S extends Schemas>(spec: RouteSpec<S>): RouteSpec {
  return spec as unknown as RouteSpec;
}
