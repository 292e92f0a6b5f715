import { Readable } from 'node:stream';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { AssayError, isAssayError, isStorageFull, MalformedRequest, newId, nulPath, ValidationFailed, type Clock, type ErrorCode, type FieldIssue } from '../core/index.js';
import { createAuthenticator, type AuthenticatedPrincipal } from '../identity/index.js';
import { authorizeRoute } from './authorize.js';
import { PROBLEM_CONTENT_TYPE, problemOf } from './problem.js';
import { namedAsRequested } from './fields.js';
import type { AppDeps, RouteReply, RouteSpec } from './route.js';
import { routeTable } from './routes/index.js';
import { UPLOAD_MEDIA_TYPES } from '../data/index.js';

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;
/** JSON bodies: application/json and its structured-syntax relatives (application/…+json). */
const JSON_MEDIA_TYPE = /^application\/([a-z0-9.+-]+\+)?json$/i;
/** A JSON media type with any parameters: Fastify matches a parser's pattern against the whole header (`application/json; charset="utf-8"`). */
const JSON_CONTENT_TYPE = /^application\/([a-z0-9.+-]+\+)?json\s*(;.*)?$/is;
const API_PREFIX = '/api/v1/';
/** Headers that describe a file answer (src/api/route.ts), never a problem. */
const FILE_HEADERS = ['etag', 'content-digest', 'content-disposition', 'assay-erasure-requests'] as const;

/** Options of `buildApp`. */
export interface BuildAppOptions {
  deps: AppDeps;
  logger: Logger;
  /** @default routeTable() */
  routes?: RouteSpec[];
  /** Decides expiry of tokens and break-glass elevations. @default systemClock */
  clock?: Clock;
}

/** Largest request line and headers together (Node counts them as one). */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * A request as the log shows it: the query string's parameter names, never their values. An
 * ingest declares its purpose, a derivation's parameters and code URI there, and a refused
 * credential arrives there too; request logs travel to systems with other readers and other
 * retention than the evidence, which keeps what was accepted.
 */
function loggedRequest(req: { method?: string; url?: string; host?: string; ip?: string; socket?: { remotePort?: number } }): Record<string, unknown> {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  const names = q < 0 ? [] : [...new Set(new URLSearchParams(url.slice(q + 1)).keys())];
  return {
    method: req.method,
    url: q < 0 ? url : `${url.slice(0, q)}?${names.map(encodeURIComponent).join('&')}`,
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

/** The raw HTTP/1.1 answer to a request Node refused before Fastify saw it, as problem+json. */
function clientRefusal(err: NodeJS.ErrnoException, requestId: string): string {
  const [status, reason, problem] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', problemOf({ code: 'validation_failed', status: 431, detail: `the request line and headers exceed ${MAX_HEADER_BYTES} bytes; a long query string (e.g. a derivation's parameters) counts`, instance: '', requestId, errors: [{ field: 'headers', message: `request line and headers together at most ${MAX_HEADER_BYTES} bytes` }] })]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', problemOf({ code: 'malformed_request', status: 408, detail: 'the request did not arrive in time', instance: '', requestId })]
        : [400, 'Bad Request', problemOf({ code: 'malformed_request', detail: 'the request is not well-formed HTTP', instance: '', requestId })];
  const body = JSON.stringify(problem);
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * The HTTP application: every route from the route table, bearer authentication and a policy
 * decision (audited) before any body is read, zod validation, and one error mapping to RFC
 * 9457 problem+json.
 */
export function buildApp(options: BuildAppOptions): FastifyInstance {
  const { deps } = options;
  const principals = new WeakMap<FastifyRequest, AuthenticatedPrincipal>();
  const app = Fastify({
    loggerInstance: options.logger.child({}, { serializers: { req: loggedRequest } }) as FastifyBaseLogger,
    bodyLimit: deps.config.maxJsonBodyBytes,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID_PATTERN.test(given) ? given : newId('req');
    },
    return503OnClosing: true,
    // Above every path parameter the schemas allow (dataset names reach 128 characters), so an
    // over-long one is refused by its schema, naming the parameter; Fastify's default is 100.
    routerOptions: { maxParamLength: 1024 },
    // A path with broken percent-encoding, or a parameter past maxParamLength, never reaches a
    // route: answer it as problem+json like every other refusal.
    frameworkErrors: (err, req, reply) => sendProblem(req, reply, frameworkRefusal(err)),
    // Node's default 16 KiB would not fit an ingest's query string declaring a derivation's
    // parameters (up to 16 KiB of JSON, URL-encoded): still bounded, four times that.
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    // Refusals before a request is parsed (headers past that size, a timeout, bytes that are no
    // HTTP) answer problem+json too, not Fastify's own JSON shape.
    clientErrorHandler(err, socket) {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
      socket.end(clientRefusal(err as NodeJS.ErrnoException, newId('req')));
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    void reply.header('x-request-id', req.id);
  });

  // Our own JSON parser: strict UTF-8 and an error that names where the JSON broke.
  app.removeContentTypeParser(['application/json']);
  app.addContentTypeParser(JSON_CONTENT_TYPE, { parseAs: 'buffer' }, (_req, body: Buffer, done) => {
    try {
      done(null, parseJsonBody(body));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  // Dataset uploads (CSV, JSON Lines, Parquet) are streamed, never buffered: the body is passed
  // through untouched and the ingest route reads request.raw itself (src/api/routes/data.ts), so a
  // multi-GB file costs one chunk of memory and only data.maxUploadBytes bounds it.
  app.addContentTypeParser(Object.keys(UPLOAD_MEDIA_TYPES), (_req, payload, done) => done(null, payload));

  // API tokens and OIDC JWTs; built once, so each issuer's key set is fetched once and cached.
  const authenticator = createAuthenticator({ db: deps.db, oidc: deps.config.oidc, ...(options.clock ? { clock: options.clock } : {}) });
  const authenticate = async (req: FastifyRequest): Promise<AuthenticatedPrincipal> => {
    const principal = await authenticator.authenticateBearer(req.headers.authorization, { requestId: req.id });
    principals.set(req, principal);
    return principal;
  };

  const routes = options.routes ?? routeTable();
  // A token route the Cedar schema has no action for could never be decided: refuse to build.
  const undecidable = routes.filter((r) => r.auth === 'token' && !deps.policy.actions.includes(r.operationId)).map((r) => r.operationId);
  if (undecidable.length > 0) {
    throw new AssayError('internal', `no Cedar action for the token routes ${undecidable.join(', ')}: declare them in the policy schema`);
  }

  for (const route of routes) {
    const accepted = route.accepts ?? (route.request.body ? ['application/json'] : undefined);
    app.route({
      method: route.method,
      url: route.path,
      // After authorisation, before any parser reads the body: Fastify's own 415 names nothing,
      // and its text/plain parser would hand a JSON route a string zod calls "Invalid input".
      ...(accepted ? { preParsing: async (req: FastifyRequest, reply: FastifyReply) => refuseMediaType(req, reply, accepted) } : {}),
      ...(route.auth === 'token'
        ? {
            onRequest: async (req: FastifyRequest) => {
              const principal = await authenticate(req);
              await authenticator.authorizeScope(principal, { operationId: route.operationId, method: route.method }, { requestId: req.id });
              // Authorisation may look parameters up in the database: refuse what no column can hold first.
              refuseNul(req.params, 'params');
              refuseNul(req.query, 'query');
              refuseUndecodableQuery(req.url);
              // Fastify has routed (params) and parsed the query string, but not read the body.
              const input = { params: req.params as Record<string, string>, query: req.query as Record<string, unknown>, principal, deps };
              await authorizeRoute({ route, input, requestId: req.id }).catch((err: unknown) => {
                throw namedAsRequested(err, route.request);
              });
            },
          }
        : {}),
      handler: async (req, reply) => {
        refuseNul(req.params, 'params');
        refuseNul(req.query, 'query');
        refuseUndecodableQuery(req.url);
        const ctx = {
          params: parsePart(route.request.params, req.params, 'params'),
          query: parsePart(route.request.query, req.query, 'query'),
          body: parsePart(route.request.body, req.body, 'body'),
          principal: principals.get(req),
          requestId: req.id,
          deps,
          request: req,
          reply,
        };
        try {
          return send(reply, await route.handler(ctx as never));
        } catch (err) {
          throw namedAsRequested(err, route.request);
        }
      },
    });
  }

  app.setNotFoundHandler(async (req, reply) => {
    // Under /api/v1 an unauthenticated caller learns nothing, not even which routes exist.
    if (req.url.startsWith(API_PREFIX)) await authenticate(req);
    return sendProblem(req, reply, new AssayError('not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  });

  app.setErrorHandler(async (err: FastifyError | AssayError | Error, req, reply) => {
    const code = (err as FastifyError).code;
    // A body sent to an operation that takes none: Fastify's own 415, which names nothing.
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return sendProblem(req, reply, unsupportedMediaType((req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase(), []));
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(req, reply, bodyTooLarge(req.routeOptions.bodyLimit));
    return sendProblem(req, reply, err);
  });
  return app;
}

/**
 * 413 naming `body`, the limit and the setting that raises it, for a JSON body over
 * maxJsonBodyBytes (Fastify's own says only "Request body is too large"): a sender whose
 * single event is larger (an openlineage-spark event carrying its logical plan) knows what to ask for.
 */
function bodyTooLarge(limit: number): AssayError {
  return new AssayError('payload_too_large', `the request body is over ${limit} bytes, the largest JSON body this server accepts (maxJsonBodyBytes, ASSAY_MAX_JSON_BODY_BYTES)`, {
    errors: [{ field: 'body', message: `over ${limit} bytes (maxJsonBodyBytes)` }],
  });
}

function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new MalformedRequest('request body is empty; send a JSON document', [{ field: 'body', message: 'empty' }]);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (cause) {
    throw new MalformedRequest('request body is not valid UTF-8', [{ field: 'body', message: 'invalid UTF-8' }], cause);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new MalformedRequest(`request body is not valid JSON: ${(cause as Error).message}`, [
      { field: 'body', message: 'invalid JSON' },
    ], cause);
  }
  // Valid JSON can hold NUL only as the escape \u0000: walk the document only when it has one.
  if (text.includes('\\u0000')) refuseNul(parsed, 'body');
  return parsed;
}

/**
 * Refuses text holding the NUL character: neither PostgreSQL's text nor its jsonb can store it,
 * and no identifier, name or reason needs it. 400 naming the field, before anything is looked up.
 */
function refuseNul(value: unknown, part: 'params' | 'query' | 'body'): void {
  const field = nulPath(value, part);
  if (field) throw new ValidationFailed(`${field} contains the NUL character (U+0000)`, [{ field, message: 'must not contain the NUL character (U+0000)' }]);
}

/**
 * 400 naming `query.KEY` for a query parameter whose percent-encoding does not decode to UTF-8
 * (`%FF`, Latin-1's `t%E9st`, a stray `%`). Fastify's parser keeps such a value as its raw
 * text, so `sourceSystem=ab%FFcd` or `transform=t%E9st` would be recorded, and signed into the
 * manifest, as text the client never meant; the path's own such bytes are refused already
 * (frameworkRefusal). Only a query string holding `%` is looked at.
 */
function refuseUndecodableQuery(url: string): void {
  const at = url.indexOf('?');
  if (at < 0 || !url.includes('%', at)) return;
  for (const pair of url.slice(at + 1).split('&')) {
    const eq = pair.indexOf('=');
    const [rawKey, rawValue] = eq < 0 ? [pair, ''] : [pair.slice(0, eq), pair.slice(eq + 1)];
    const key = decodedOrUndefined(rawKey);
    if (key !== undefined && decodedOrUndefined(rawValue) !== undefined) continue;
    // Named as the key decodes; a key that does not decode either is named only as the query.
    const field = key === undefined ? 'query' : `query.${key}`;
    throw new MalformedRequest(`${field}: its percent-encoding does not decode to UTF-8; encode the text as UTF-8 (a literal % is %25)`, [
      { field, message: 'invalid percent-encoding: not UTF-8' },
    ]);
  }
}

const decodedOrUndefined = (text: string): string | undefined => {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
};

/**
 * 415 naming `headers.content-type` and the types the operation accepts, unless the request
 * has no body or sends one of them. The body stays unread, so the connection closes after the
 * answer rather than reading (and discarding) an upload.
 */
function refuseMediaType(req: FastifyRequest, reply: FastifyReply, accepted: readonly string[]): void {
  const header = req.headers['content-type'];
  const hasBody = header !== undefined || req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0';
  if (!hasBody) return;
  const mediaType = (header ?? '').split(';')[0]!.trim().toLowerCase();
  if (!accepted.some((a) => a === mediaType || (a === 'application/json' && JSON_MEDIA_TYPE.test(mediaType)))) {
    void reply.header('connection', 'close');
    throw unsupportedMediaType(mediaType, accepted);
  }
  // JSON is UTF-8 by definition (RFC 8259) and its routes decode it so whatever the label says.
  if (!JSON_MEDIA_TYPE.test(mediaType)) refuseCharset(header ?? '', reply);
  refuseContentCoding(req, reply);
}

/** Charsets whose text is UTF-8 as sent: ASCII is a subset of it. */
const UTF8_CHARSETS: ReadonlySet<string> = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

/**
 * 415 naming `headers.content-type` for an upload declared in a charset other than UTF-8 (or
 * ASCII): a file is read as UTF-8 only, so an ISO-8859-1 or Windows-1252 export would be
 * refused later as invalid UTF-8, or, holding no byte above 127 in its first chunks, stored
 * and read under a label that says otherwise. Refused before a byte is read, with advice.
 */
function refuseCharset(header: string, reply: FastifyReply): void {
  const charsets = header
    .split(';')
    .slice(1)
    .map((p) => p.split('='))
    .filter(([name]) => name!.trim().toLowerCase() === 'charset')
    .map(([, value = '']) => value.trim().replace(/^"(.*)"$/, '$1').toLowerCase());
  const foreign = charsets.filter((c) => !UTF8_CHARSETS.has(c));
  if (foreign.length === 0) return;
  void reply.header('connection', 'close');
  // Echoed only as a charset name (RFC 2978), so the answer repeats no arbitrary header bytes.
  const given = foreign.every((c) => /^[a-z0-9!#$%&'+^_`{}~.-]{1,40}$/.test(c)) ? foreign.join(', ') : 'an unknown charset';
  const from = /^[a-z0-9_.:-]{1,40}$/.test(foreign[0]!) ? foreign[0]!.toUpperCase() : 'WINDOWS-1252';
  throw new AssayError('unsupported_media_type', `the body is declared as charset ${given}; files are read as UTF-8 only: convert it to UTF-8 (e.g. iconv -f ${from} -t UTF-8) and send it with charset=utf-8 or none`, {
    errors: [{ field: 'headers.content-type', message: `unsupported charset: ${given}; convert the file to UTF-8` }],
  });
}

/**
 * 415 naming `headers.content-encoding` for a body sent compressed (gzip, br…): nothing here
 * decodes it, so its bytes would be read as the file itself (a gzipped CSV refused as
 * "invalid UTF-8, maybe Windows-1252"; JSON as malformed). RFC 7694: the answer's
 * Accept-Encoding says only identity is taken.
 */
function refuseContentCoding(req: FastifyRequest, reply: FastifyReply): void {
  const codings = (req.headers['content-encoding'] ?? '').split(',').map((c) => c.trim().toLowerCase()).filter((c) => c !== '' && c !== 'identity');
  if (codings.length === 0) return;
  void reply.header('connection', 'close').header('accept-encoding', 'identity');
  // Echoed only as RFC 9110 tokens, so the answer repeats no arbitrary header bytes.
  const given = codings.every((c) => /^[a-z0-9!#$%&'*+.^_`|~-]{1,32}$/.test(c)) ? codings.join(', ').slice(0, 64) : 'a coding';
  throw new AssayError('unsupported_media_type', `the body is sent with Content-Encoding ${given}, which the server does not decode; send it uncompressed`, {
    errors: [{ field: 'headers.content-encoding', message: `unsupported: ${given}; send the body uncompressed (identity)` }],
  });
}

function unsupportedMediaType(mediaType: string, accepted: readonly string[]): AssayError {
  const wanted = accepted.length > 0 ? `accepted: ${accepted.join(', ')}` : 'this operation takes no body';
  return new AssayError('unsupported_media_type', `${mediaType === '' ? 'no Content-Type' : `unsupported media type ${mediaType}`}; ${wanted}`, {
    errors: [{ field: 'headers.content-type', message: `${mediaType === '' ? 'missing' : `unsupported: ${mediaType}`}; ${wanted}` }],
  });
}

/** Fastify's routing refusals as our errors, naming the path. */
function frameworkRefusal(err: FastifyError): Error {
  if (err.code === 'FST_ERR_BAD_URL') {
    return new MalformedRequest('the request path is not valid: its percent-encoding does not decode to UTF-8', [{ field: 'path', message: 'invalid percent-encoding' }], err);
  }
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    return new MalformedRequest('a path parameter is longer than 1024 characters', [{ field: 'path', message: 'parameter too long' }], err);
  }
  return err;
}

function parsePart(schema: z.ZodType | undefined, value: unknown, part: 'params' | 'query' | 'body'): unknown {
  if (!schema) return undefined;
  const input = value ?? (part === 'body' ? undefined : {});
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues: FieldIssue[] = r.error.issues.flatMap((i) => {
    const base = [part, ...i.path.map(String)].join('.');
    if (i.code === 'unrecognized_keys') return i.keys.map((k) => ({ field: `${base}.${k}`, message: 'unknown field' }));
    // `?limit=1&limit=2` parses as an array: zod would say "expected string, received array".
    if (part === 'query' && i.code === 'invalid_type' && i.path.length === 1 && Array.isArray((input as Record<PropertyKey, unknown>)[i.path[0]!])) {
      return [{ field: base, message: 'given more than once: give it once' }];
    }
    return [{ field: base, message: i.message }];
  });
  throw new ValidationFailed(`invalid ${part}: ${issues.map((i) => i.field).join(', ')}`, issues);
}

function send(reply: FastifyReply, r: RouteReply): FastifyReply {
  void reply.code(r.status ?? 200);
  if ('text' in r) return reply.type(r.contentType).send(r.text);
  // No stream: the headers alone (HEAD). Fastify's HEAD answer sets Content-Length to 0 for an
  // absent payload and reads a stream payload to its end: an empty stream keeps the file's length and reads nothing.
  if ('file' in r) return reply.headers(r.headers).send(r.file ?? Readable.from([]));
  return reply.type('application/json; charset=utf-8').send(JSON.stringify(r.json));
}

/** Fastify's own 4xx errors (bad content type, body too large…) mapped to our codes. */
function codeForFrameworkStatus(status: number): ErrorCode {
  if (status === 413) return 'payload_too_large';
  if (status === 415) return 'unsupported_media_type';
  if (status === 404) return 'not_found';
  return 'malformed_request';
}

function sendProblem(req: FastifyRequest, reply: FastifyReply, err: unknown): FastifyReply {
  const instance = req.url.split('?')[0] ?? req.url;
  let problem;
  if (isAssayError(err) && err.code !== 'internal') {
    problem = problemOf({ code: err.code, detail: err.message, instance, requestId: req.id, errors: err.errors });
    if (problem.status >= 500) req.log.error({ err }, 'request failed');
  } else {
    const status = (err as FastifyError).statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      problem = problemOf({
        code: codeForFrameworkStatus(status),
        status,
        detail: (err as Error).message,
        instance,
        requestId: req.id,
      });
    } else if (isStorageFull(err)) {
      // Not the caller's fault and not a bug: the operator must free space. Nothing was kept (each write is transactional or removed on failure).
      req.log.error({ err }, 'storage full');
      problem = problemOf({
        code: 'insufficient_storage',
        detail: 'the server ran out of storage space while handling the request; nothing was kept. Try again once an administrator has freed space',
        instance,
        requestId: req.id,
      });
    } else {
      // Unexpected: log everything under a correlation id, tell the client only the id.
      const correlationId = newId('err');
      req.log.error({ err, correlationId }, 'unexpected error');
      problem = {
        ...problemOf({
          code: 'internal',
          detail: `unexpected error; quote correlation id ${correlationId} to your administrator`,
          instance,
          requestId: req.id,
        }),
        correlationId,
      };
    }
  }
  if (problem.status === 401) void reply.header('www-authenticate', 'Bearer realm="assay"');
  // A problem describes no file: a download refused after its headers were set (a corrupt blob
  // caught before its first byte left) must not answer with the file's digest, tag or name.
  for (const name of FILE_HEADERS) {
    void reply.removeHeader(name);
    if (!reply.raw.headersSent) reply.raw.removeHeader(name);
  }
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}
