import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createPgliteDb } from '../../src/store/index.js';
import { createPrincipalWithToken } from './app.js';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
/**
 * Runs the CLI from source through tsx, as a separate process like a user would. tsx by its
 * file, so a child started in another working directory (outside the checkout) finds it.
 */
const NODE_ARGS = ['--import', pathToFileURL(join(import.meta.dirname, '..', '..', 'node_modules', 'tsx', 'dist', 'loader.mjs')).href, MAIN];

/** Environment for a CLI child: the test's own, minus anything that would point it elsewhere. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ASSAY_LOG_LEVEL: 'warn', ...extra };
  for (const k of ['ASSAY_HOME', 'DATABASE_URL', 'ASSAY_URL', 'ASSAY_TOKEN']) if (!(k in extra)) delete env[k];
  return env;
}

/** Runs `assay …args` to completion, in `cwd` (default: the test's own working directory). */
export function runAssay(args: string[], env: NodeJS.ProcessEnv = cliEnv(), cwd?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...NODE_ARGS, ...args], { encoding: 'utf8', env, timeout: 120_000, ...(cwd ? { cwd } : {}) });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `assay …args` in the background. */
export function spawnAssay(args: string[], env: NodeJS.ProcessEnv = cliEnv()): ChildProcess & { output(): string } {
  const child = spawn(process.execPath, [...NODE_ARGS, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  return Object.assign(child, { output: () => output });
}

/**
 * `fetch` for a server started from the CLI, each request on a connection of its own. The
 * tests that use it also run the CLI with spawnSync, which blocks this process's event loop:
 * a pooled keep-alive connection the server closed meanwhile (Fastify's keep-alive lasts 72 s)
 * is only seen closed after the next request was written to it, which then fails with "other
 * side closed" though the server is well.
 */
export function fetchFresh(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('connection', 'close');
  return fetch(url, { ...init, headers });
}

/** Polls until `fn` returns a value (no wall-clock assertion: the test's own timeout bounds it). */
export async function eventually<T>(fn: () => Promise<T | undefined> | T | undefined, intervalMs = 100): Promise<T> {
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The running server's `server.json` in `home`, once it exists. */
export function readServerInfo(home: string): { pid: number; url: string } | undefined {
  try {
    return JSON.parse(readFileSync(join(home, 'server.json'), 'utf8')) as { pid: number; url: string };
  } catch {
    return undefined;
  }
}

/** Resolves with the exit code (or signal) of `child`. */
export function exitOf(child: ChildProcess): Promise<number | string> {
  // Already gone (the 'exit' event may have fired before anyone listened).
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  if (child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
}

/** A CLI server running on a free loopback port, ready (`/readyz` 200). */
export interface RunningServer {
  child: ReturnType<typeof spawnAssay>;
  url: string;
  /** SIGTERM, then waits for the exit. */
  stop(): Promise<void>;
}

/** Starts `assay server --port 0` for `home` and waits until it is ready. */
export async function startAssayServer(home: string, env: NodeJS.ProcessEnv = cliEnv()): Promise<RunningServer> {
  const child = spawnAssay(['--home', home, 'server', '--port', '0'], env);
  const { url } = await eventually(() => readServerInfo(home));
  await eventually(async () => ((await fetchFresh(`${url}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined));
  return {
    child,
    url,
    async stop() {
      child.kill('SIGTERM');
      await exitOf(child);
    },
  };
}

/**
 * `assay init` of `home`, then a steward principal `stella` with a token, and the server
 * started: what CLI suites that ingest through the server begin with.
 */
export async function startServerWithSteward(home: string): Promise<{ server: RunningServer; token: string }> {
  const init = runAssay(['--home', home, 'init']);
  if (init.status !== 0) throw new Error(`assay init failed: ${init.stderr}`);
  const db = await createPgliteDb({ dataDir: join(home, 'db') });
  let token: string;
  try {
    token = (await createPrincipalWithToken(db, { name: 'stella', roles: ['data-steward'] })).token;
  } finally {
    await db.close();
  }
  return { server: await startAssayServer(home), token };
}
