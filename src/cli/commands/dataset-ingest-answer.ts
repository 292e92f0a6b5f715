import { InvalidArgumentError } from 'commander';
import type { DatasetRecord, DatasetVersionRecord } from '../../data/index.js';
import { isAssayError, Unavailable } from '../../core/index.js';
import { getJson, type ServerTarget } from '../client.js';
import type { AnswerLost } from '../upload.js';

/** How long `dataset ingest` looks for the version a lost answer would have named, unless `--answer-wait` says otherwise. */
export const DEFAULT_ANSWER_WAIT_SECONDS = 600;
const POLL_MS = 2000;

/** `--answer-wait`: whole seconds, 0 or more. */
export function parseAnswerWait(value: string): number {
  if (!/^\d{1,6}$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds (0 to 999999)');
  return Number(value);
}

/**
 * The newest version number of dataset `name` before an ingest (0 when there is none yet), so a
 * version made from a lost answer's upload can be told from older ones with the same bytes;
 * undefined when the dataset cannot be read here (then a lost answer is only reported).
 */
export async function latestVersionBefore(target: ServerTarget, name: string): Promise<number | undefined> {
  try {
    return (await getJson<DatasetRecord>(target, `/api/v1/datasets/${encodeURIComponent(name)}`)).latestVersion ?? 0;
  } catch (err) {
    if (isAssayError(err) && err.code === 'not_found') return 0;
    return undefined;
  }
}

/** Where a lost ingest answer is looked for, and how long. */
export interface LostAnswerSearch {
  target: ServerTarget;
  name: string;
  /** The newest version before the upload (`latestVersionBefore`); undefined: do not look. */
  before: number | undefined;
  waitSeconds: number;
  /** Says once that the answer was lost and what is being looked for. */
  say: (line: string) => void;
}

/**
 * After the connection closed between the last byte sent and the server's answer (a proxy's
 * idle timeout while a large file is checked, a network blip), finds the version the server made
 * from this file: one newer than before the upload whose snapshot has the file's SHA-256. The
 * server finishes an ingest whose client went away, so it may appear only once its checks end;
 * looked for every 2 s up to the wait. Resolves to it, or rejects saying what to check before
 * sending the file again (which would make a second version if the first was made).
 */
export async function findLostIngest(lost: AnswerLost, search: LostAnswerSearch): Promise<DatasetVersionRecord> {
  const { target, name, before, waitSeconds } = search;
  const since = before === undefined ? '' : before === 0 ? ' (its first)' : ` newer than v${before}`;
  const wanted = `a version of ${name}${since} with snapshot sha256:${lost.sha256}`;
  const check = `look with \`assay dataset show ${name}\` before sending the file again: if the server made the version, sending it again makes a second one`;
  if (before === undefined || waitSeconds === 0) {
    throw new Unavailable(`${lost.message}; the server may have made ${wanted}: ${check}`, lost);
  }
  search.say(`${lost.message}; the server may still be checking the file: looking for ${wanted} for up to ${waitSeconds} s\n`);
  const deadline = Date.now() + waitSeconds * 1000;
  for (;;) {
    const look = await lookOnce(target, { name, before, sha256: lost.sha256 });
    if (typeof look !== 'string') {
      search.say(`found it: the server made ${look.datasetName} v${look.version} from this file\n`);
      return look;
    }
    if (Date.now() + POLL_MS > deadline) {
      throw new Unavailable(`${wanted} did not appear within ${waitSeconds} s${look}: the server may still be checking the file, or may have refused it; ${check}`, lost);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The version made from the upload, if listed now; else why not (empty when the listing simply lacks it). */
async function lookOnce(target: ServerTarget, o: { name: string; before: number; sha256: string }): Promise<DatasetVersionRecord | string> {
  try {
    const { versions } = await getJson<{ versions: DatasetVersionRecord[] }>(target, `/api/v1/datasets/${encodeURIComponent(o.name)}/versions`);
    return versions.find((v) => v.version > o.before && v.snapshot.sha256 === o.sha256) ?? '';
  } catch (err) {
    // Not there yet (a new dataset exists only once its first version is made), or the server is briefly away: keep looking.
    return isAssayError(err) && err.code === 'not_found' ? '' : ` (the last look failed: ${(err as Error).message})`;
  }
}
