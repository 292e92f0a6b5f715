import type { Db } from '../src/store/index.js';

/** Seconds elapsed since `since` (a `process.hrtime.bigint()` reading). */
export function seconds(since: bigint): number {
  return Number(process.hrtime.bigint() - since) / 1e9;
}

/** The server settings that decide what a commit costs, recorded with every result. */
export interface ServerSettings {
  version: string;
  fsync: string;
  synchronousCommit: string;
}

/** Reads `ServerSettings` from either driver. */
export async function serverSettings(db: Db): Promise<ServerSettings> {
  const { rows } = await db.query<ServerSettings>(`SELECT current_setting('server_version') AS version,
    current_setting('fsync') AS fsync, current_setting('synchronous_commit') AS "synchronousCommit"`);
  const settings = rows[0];
  if (!settings) throw new Error('could not read server settings');
  return settings;
}
