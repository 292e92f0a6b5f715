import type { BlobStore, Db } from '../store/index.js';
import { startBackgroundLoop } from './background-loop.js';
import { purgeExpiredPayloads, type PurgeReport } from './retention.js';
import { sweepStrayPayloads, type StraySweepReport } from './stray-payloads.js';

/** Options of `startRetentionPurge`. */
export interface RetentionPurgeOptions {
  db: Db;
  blobs: BlobStore;
  /** Pause between runs. */
  intervalMs: number;
  /** Called after every purge run (log it). */
  onReport?: (report: PurgeReport) => void;
  /** Grace of the schedule's first stray sweep: 0 when this process holds the embedded database's lock (every pending record is then a dead process's). @default STRAY_PAYLOAD_GRACE_MS */
  firstSweepGraceMs?: number;
  /** Called after every stray sweep (log it). */
  onSweep?: (report: StraySweepReport) => void;
  /** Called when a run fails; the schedule carries on. */
  onError?: (err: unknown) => void;
}

/** The running schedule. */
export interface RetentionPurgeHandle {
  /** Stops after the batch in progress; resolves once nothing runs. */
  stop(): Promise<void>;
}

/**
 * Purges expired payloads now and then every `intervalMs`, until stopped; once a run has
 * purged all that was due, it also sweeps stray payload bytes (`sweepStrayPayloads`).
 */
export function startRetentionPurge(options: RetentionPurgeOptions): RetentionPurgeHandle {
  let graceMs = options.firstSweepGraceMs;
  const loop = startBackgroundLoop({
    round: async () => {
      const report = await purgeExpiredPayloads({ db: options.db, blobs: options.blobs });
      options.onReport?.(report);
      // Rows another transaction holds are skipped and still count as due: go round again only on progress.
      if (report.more && report.purged.length > 0) return true;
      options.onSweep?.(await sweepStrayPayloads({ db: options.db, blobs: options.blobs, ...(graceMs === undefined ? {} : { graceMs }) }));
      graceMs = undefined;
      return false;
    },
    idleMs: options.intervalMs,
    ...(options.onError ? { onError: options.onError } : {}),
  });
  return { stop: () => loop.stop() };
}
