import { existsSync, readFileSync } from 'node:fs';
import { AssayError, isProcessAlive, loadConfig, Unavailable, type AssayConfig, type ErrorCode } from '../core/index.js';
import type { CliIo, GlobalOptions } from './io.js';

/** `--url` help for commands that only talk to a running server (never the database directly). */
export const SERVER_URL_HELP = 'server to talk to (default: the running server of $ASSAY_HOME)';

/** How to reach a running server. */
export interface ServerTarget {
  url: string;
  token: string;
}

/**
 * The server this command should talk to: `--url`/`ASSAY_URL`, else `$ASSAY_HOME/server.json`
 * when its process is alive; undefined when no server runs (the command may then open the
 * database itself). The token comes from `ASSAY_TOKEN` or `$ASSAY_HOME/admin.token`.
 */
export function findServer(config: AssayConfig, env: Record<string, string | undefined>, url?: string): ServerTarget | undefined {
  let target = url ?? env.ASSAY_URL;
  if (!target && existsSync(config.paths.serverInfo)) {
    const info = JSON.parse(readFileSync(config.paths.serverInfo, 'utf8')) as { url: string; pid: number };
    if (isProcessAlive(info.pid)) target = info.url;
  }
  if (!target) return undefined;
  const token = env.ASSAY_TOKEN ?? (existsSync(config.paths.adminToken) ? readFileSync(config.paths.adminToken, 'utf8').trim() : undefined);
  if (!token) {
    throw new AssayError('unauthenticated', `no API token: set ASSAY_TOKEN or create ${config.paths.adminToken} with "assay init"`);
  }
  return { url: target.replace(/\/$/, ''), token };
}

// Every code the server may answer with; a Record so a new ErrorCode fails to compile until listed.
const KNOWN_CODES: Record<ErrorCode, true> = {
  validation_failed: true,
  malformed_request: true,
  unauthenticated: true,
  forbidden: true,
  not_found: true,
  conflict: true,
  payload_too_large: true,
  unsupported_media_type: true,
  config_invalid: true,
  migration_edited: true,
  integrity_violation: true,
  database_locked: true,
  unavailable: true,
  insufficient_storage: true,
  internal: true,
};

interface ProblemBody {
  code?: string;
  detail?: string;
  errors?: Array<{ field: string; detail: string }>;
}

/** A refusal as the server answered it: its status, and its body's text and media type. */
export interface RefusalAnswer {
  status: number;
  statusText: string;
  contentType: string | undefined;
  text: string;
}

/**
 * The error a refusal stands for: a problem+json answer becomes an AssayError with the
 * server's code, detail and field errors, so the CLI reports (and `--json` prints) what the
 * server said; anything else (a proxy's HTML page) says what came instead.
 */
export function refusalError(answer: RefusalAnswer): AssayError {
  let body: ProblemBody;
  try {
    body = JSON.parse(answer.text) as ProblemBody;
  } catch {
    return new Unavailable(`server answered ${answer.status} ${answer.statusText} with ${answer.contentType ?? 'no content type'}, not a problem: ${answer.text.slice(0, 200)}`);
  }
  const code: ErrorCode = body.code !== undefined && Object.hasOwn(KNOWN_CODES, body.code) ? (body.code as ErrorCode) : 'unavailable';
  return new AssayError(code, `server answered ${answer.status}: ${body.detail ?? answer.statusText}`, {
    errors: (body.errors ?? []).map((e) => ({ field: e.field, message: e.detail })),
  });
}

/** What `requestJson` sends. */
export interface JsonRequest {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  /** Sent as JSON (POST). */
  body?: unknown;
  /** Aborting it cuts the request short (the CLI's Ctrl-C). */
  signal?: AbortSignal;
}

/**
 * Sends a request to the server and resolves to its JSON answer. A problem+json answer becomes
 * an AssayError with the server's code, detail and field errors, so the CLI reports (and
 * `--json` prints) what the server said.
 */
export async function requestJson<T>(target: ServerTarget, request: JsonRequest): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${request.path}`, {
      method: request.method,
      headers: {
        authorization: `Bearer ${target.token}`,
        ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
      ...(request.signal ? { signal: request.signal } : {}),
    });
  } catch (cause) {
    throw new Unavailable(`cannot reach the Assay server at ${target.url}`, cause);
  }
  if (!res.ok) throw refusalError({ status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type') ?? undefined, text: await res.text() });
  return (await res.json()) as T;
}

/** GETs `path` from the server as JSON; a problem+json answer becomes an AssayError carrying its detail. */
export function getJson<T>(target: ServerTarget, path: string): Promise<T> {
  return requestJson<T>(target, { method: 'GET', path });
}

/** POSTs `body` to `path` as JSON and resolves to the JSON answer. */
export function postJson<T>(target: ServerTarget, path: string, body: unknown): Promise<T> {
  return requestJson<T>(target, { method: 'POST', path, body });
}

/**
 * Every item of a paged list (`{[key]: T[], nextCursor}`): GETs `path` with `query`, 1000 a
 * page, following `after=nextCursor` until the last page.
 */
export async function getAllPages<T>(target: ServerTarget, list: { path: string; query: Record<string, string | undefined>; key: string }): Promise<T[]> {
  const all: T[] = [];
  let after: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '1000' });
    for (const [k, v] of Object.entries(list.query)) if (v !== undefined) query.set(k, v);
    if (after) query.set('after', after);
    const page: Record<string, unknown> & { nextCursor: string | null } = await getJson(target, `${list.path}?${query.toString()}`);
    all.push(...((page[list.key] ?? []) as T[]));
    after = page.nextCursor;
  } while (after);
  return all;
}

/** The running server, or an error saying that this command needs one. */
export function requireServer(config: AssayConfig, env: Record<string, string | undefined>, url?: string): ServerTarget {
  const target = findServer(config, env, url);
  if (!target) {
    throw new Unavailable(`no running Assay server for ${config.home}: start one with "assay server", or pass --url or ASSAY_URL`);
  }
  return target;
}

/**
 * The running server of the command's home (or `url`), for commands that change state: those
 * changes are audited, so only the server makes them.
 */
export function serverFor(io: CliIo, globals: GlobalOptions, url?: string): ServerTarget {
  const config = loadConfig({ env: io.env, cwd: io.cwd, overrides: globals.home ? { home: globals.home } : {} });
  return requireServer(config, io.env, url);
}
