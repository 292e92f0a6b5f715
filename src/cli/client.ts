import { existsSync, readFileSync } from 'node:fs';
import { AssayError, isProcessAlive, Unavailable, type AssayConfig } from '../core/index.js';

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

/** GETs `path` from the server as JSON; a problem+json answer becomes an AssayError carrying its detail. */
export async function getJson<T>(target: ServerTarget, path: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, { headers: { authorization: `Bearer ${target.token}` } });
  } catch (cause) {
    throw new Unavailable(`cannot reach the Assay server at ${target.url}`, cause);
  }
  const body = (await res.json()) as T & { code?: string; detail?: string };
  if (!res.ok) throw new AssayError('unavailable', `server answered ${res.status}: ${body.detail ?? res.statusText}`);
  return body;
}
