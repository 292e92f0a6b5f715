import { existsSync } from 'node:fs';
import {
  dbBundleSource,
  exportAuditBundle,
  openCheckpoint,
  parseVerifierKey,
  verifyAuditBundle,
  verifyAuditLogSnapshot,
  type AuditVerifyReport,
  type BundleSource,
  type BundleVerifyReport,
  type BundleWindow,
  type ExportBundleResult,
  type ExportProgress,
  type WindowSpan,
} from '../../audit/index.js';
import { AssayError, loadConfig, openKeyring, Unavailable, ValidationFailed, type AssayConfig } from '../../core/index.js';
import { acquireHomeLock, migrationStatus, openDatabase, type Db } from '../../store/index.js';
import { findServer, getJson, requestJson, type ServerTarget } from '../client.js';
import { interruptible } from '../interrupt.js';
import { EXIT, printJson, type CliIo, type GlobalOptions } from '../io.js';
import { readTrustedKeys } from '../trusted-keys.js';

/** Options of `assay audit verify`. */
export interface AuditVerifyCliOptions extends GlobalOptions {
  url?: string;
  /** Verify this bundle file (or extracted folder) offline instead of the live log. */
  bundle?: string;
  /** Note verifier key(s) the bundle must be signed with (already read from a file if one was named; several from a key list). */
  publicKey?: string | string[];
}

function configOf(io: CliIo, opts: GlobalOptions): AssayConfig {
  return loadConfig({ env: io.env, cwd: io.cwd, overrides: { ...(opts.home ? { home: opts.home } : {}) } });
}

/**
 * Runs `fn` on the database of this home when no server owns it: takes the embedded database's
 * lock (so never beside a server), checks the schema is current, and hands over the keyring's
 * public keys (retired ones too).
 */
async function withDatabase<T>(config: AssayConfig, fn: (db: Db, publicKeys: Uint8Array[]) => Promise<T>): Promise<T> {
  const lock = config.databaseUrl ? undefined : acquireHomeLock(config.paths.lock);
  try {
    const keyring = await openKeyring(config.paths.keys);
    const db = await openDatabase(config);
    try {
      const status = await migrationStatus(db);
      if (!status.ok) throw new AssayError('migration_edited', `database schema is not current: ${status.problem ?? ''}`);
      return await fn(
        db,
        keyring.list().map((k) => Buffer.from(k.publicKey, 'base64')),
      );
    } finally {
      await db.close();
    }
  } finally {
    lock?.release();
  }
}

/**
 * `assay audit verify`: with `--bundle`, checks an exported bundle offline (no server, database
 * or configuration); otherwise through the running server when there is one, else on the
 * database directly.
 */
export async function runAuditVerify(io: CliIo, opts: AuditVerifyCliOptions): Promise<number> {
  if (opts.bundle !== undefined) return runBundleVerify(io, { ...opts, bundle: opts.bundle });
  if (opts.publicKey !== undefined) {
    io.stderr('error: --public-key applies only with --bundle (the live log is checked with the keyring)\n');
    return EXIT.usage;
  }
  const config = configOf(io, opts);
  const server = findServer(config, io.env, opts.url);
  const report: AuditVerifyReport = server
    ? await getJson<AuditVerifyReport>(server, '/api/v1/audit/verify')
    : await withDatabase(config, (db, publicKeys) => verifyAuditLogSnapshot({ db, publicKeys }));
  if (opts.json) printJson(io, report);
  else if (report.ok) io.stdout(`audit log OK: ${report.size} entries, ${report.checkpoints} signed checkpoints verified\n`);
  else {
    const p = report.problem;
    const where = p.index !== undefined ? `first bad index ${p.index}` : p.checkpointSize !== undefined ? `checkpoint of size ${p.checkpointSize}` : 'log';
    io.stderr(`audit log DAMAGED: ${where}: ${p.kind} — ${p.detail}\n`);
  }
  return report.ok ? EXIT.ok : EXIT.failure;
}

/** The `name+keyid` part of a verifier key: enough to compare by eye, without the key bytes. */
function keyLabel(vkey: string): string {
  return vkey.split('+').slice(0, 2).join('+');
}

async function runBundleVerify(io: CliIo, opts: AuditVerifyCliOptions & { bundle: string }): Promise<number> {
  // A mistyped path is not a damaged bundle: say so without alarming whoever checks the evidence.
  if (!existsSync(opts.bundle)) {
    throw new ValidationFailed(`cannot read ${opts.bundle}: no such bundle file or folder`, [{ field: 'bundle', message: 'no such file or folder' }]);
  }
  const report: BundleVerifyReport = await verifyAuditBundle({
    path: opts.bundle,
    ...(opts.publicKey !== undefined ? { publicKey: opts.publicKey } : {}),
  });
  if (opts.json) {
    printJson(io, report);
    return report.ok ? EXIT.ok : EXIT.failure;
  }
  if (!report.ok) {
    const p = report.problem;
    const where = p.index !== undefined ? `first bad index ${p.index}` : (p.file ?? 'bundle');
    // Another key than the one trusted is no proof of damage (a key rotated since looks the same): not verified.
    const verdict = p.kind === 'wrong_key' ? 'NOT VERIFIED' : 'DAMAGED';
    io.stderr(`audit bundle ${verdict}: ${where}: ${p.kind} — ${p.detail}\n`);
    return EXIT.failure;
  }
  const { span, checkpoint, window } = report;
  const consistent = report.earliestCheckpointSize === null ? '' : `; consistent with checkpoint ${report.earliestCheckpointSize}`;
  io.stdout(
    `audit bundle OK: leaves ${span.start}..${span.end - 1} (${report.leaves}) of ${report.origin} match checkpoint ${checkpoint.size}` +
      ` signed by ${keyLabel(report.key)}${consistent}\n` +
      `  ${window.entries} recorded from ${window.from ?? 'the beginning'} to ${window.to ?? 'the export'}\n`,
  );
  if (report.keyTrusted === 'bundle') {
    io.stderr(
      `warning: no --public-key given, so the bundle vouched for its own key ${keyLabel(report.key)}.\n` +
        '  Compare it with the log\'s key obtained independently (GET /api/v1/audit/public-key on its server;\n' +
        '  GET /api/v1/audit/public-keys also lists keys retired since), or pass that key with --public-key.\n',
    );
  }
  return EXIT.ok;
}

/**
 * The value of `audit verify --bundle --public-key`: one note verifier key, or every key of a
 * saved `GET /api/v1/audit/public-keys` answer (`readTrustedKeys`). Throws the usage error's message.
 */
export function readPublicKeyOption(value: string): string | string[] {
  const { keys, fromList } = readTrustedKeys(value);
  return fromList ? keys.map((k) => k.key) : keys[0]!.key;
}

/** GETs a text resource (the checkpoint, the public key); undefined on 404. */
async function getText(target: ServerTarget, path: string, signal?: AbortSignal): Promise<string | undefined> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, { headers: { authorization: `Bearer ${target.token}` }, ...(signal ? { signal } : {}) });
  } catch (cause) {
    throw new Unavailable(`cannot reach the Assay server at ${target.url}`, cause);
  }
  if (res.status === 404) return undefined;
  const text = await res.text();
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = (JSON.parse(text) as { detail?: string }).detail ?? detail;
    } catch {
      // not problem+json: keep the status text
    }
    throw new AssayError('unavailable', `server answered ${res.status}: ${detail}`);
  }
  return text;
}

const fromBase64 = (list: string[]): Buffer[] => list.map((s) => Buffer.from(s, 'base64'));

/**
 * A bundle source over the server's public audit API (the same endpoints an outside verifier uses).
 * Aborting `signal` cuts the request in flight short, so an interrupted export does not wait for a slow server.
 */
function httpBundleSource(server: ServerTarget, signal: AbortSignal): BundleSource {
  const get = <T>(path: string): Promise<T> => requestJson<T>(server, { method: 'GET', path, signal });
  return {
    async findSpan(window: BundleWindow): Promise<WindowSpan> {
      const span: WindowSpan = { first: null, last: null, unsequenced: 0 };
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ limit: '1000' });
        if (window.from) q.set('from', window.from);
        if (window.to) q.set('to', window.to);
        if (cursor) q.set('cursor', cursor);
        const page: { entries: Array<{ index: number | null }>; nextCursor: string | null } = await get(`/api/v1/audit/entries?${q.toString()}`);
        for (const { index } of page.entries) {
          if (index === null) span.unsequenced++;
          else {
            span.first = span.first === null ? index : Math.min(span.first, index);
            span.last = span.last === null ? index : Math.max(span.last, index);
          }
        }
        cursor = page.nextCursor;
      } while (cursor);
      return span;
    },
    latestCheckpoint: () => getText(server, '/api/v1/audit/checkpoint', signal),
    async verifierKey(note: string) {
      // The newest checkpoint may predate a key rotation, so the active key alone may not verify
      // it: take whichever key the server ever signed with does (a server without the list has only its active key).
      const listed = await getText(server, '/api/v1/audit/public-keys', signal);
      const keys = listed === undefined ? [await getText(server, '/api/v1/audit/public-key', signal)] : (JSON.parse(listed) as { keys: Array<{ publicKey: string }> }).keys.map((k) => k.publicKey);
      const published = keys.filter((k): k is string => k !== undefined).map((k) => k.trim());
      if (published.length === 0) throw new AssayError('not_found', 'the server publishes no audit public key');
      const signer = published.find((vkey) => {
        try {
          const verifier = parseVerifierKey(vkey);
          openCheckpoint(note, verifier, { origin: verifier.name });
          return true;
        } catch {
          return false;
        }
      });
      // None verifies: hand over the active key, so the export's own check names the damage.
      return signer ?? published[published.length - 1]!;
    },
    readLeaves: async (r) => fromBase64((await get<{ leaves: string[] }>(`/api/v1/audit/leaves?start=${r.start}&end=${r.end}`)).leaves),
    proveInclusion: async (q) => fromBase64((await get<{ proof: string[] }>(`/api/v1/audit/proof/inclusion?index=${q.index}&size=${q.size}`)).proof),
    proveConsistency: async (q) => fromBase64((await get<{ proof: string[] }>(`/api/v1/audit/proof/consistency?from=${q.from}&to=${q.to}`)).proof),
  };
}

/** Options of `assay audit export`. */
export interface AuditExportCliOptions extends GlobalOptions {
  url?: string;
  /** Inclusive lower bound on recordedAt, already normalised to ISO-8601 UTC. */
  from?: string;
  /** Exclusive upper bound. */
  to?: string;
  out: string;
}

/** Reports progress at most once a second, and only once an export has run for a second. */
function progressReporter(io: CliIo): (p: ExportProgress) => void {
  const started = Date.now();
  let last = started;
  return (p) => {
    const now = Date.now();
    if (now - last < 1000 || p.done >= p.total) return;
    last = now;
    io.stderr(`exporting: ${p.done} of ${p.total} leaves (${Math.floor((100 * p.done) / p.total)}%)\n`);
  };
}

/**
 * `assay audit export`: writes the entries recorded in [--from, --to) as a self-contained bundle
 * that `assay audit verify --bundle` (or an examiner, by hand) checks offline. Reads through the
 * running server's public audit API when there is one, otherwise the database directly. Ctrl-C
 * (SIGINT) or SIGTERM meanwhile stops it with its temporary folder of audit leaves removed and
 * nothing written (exit 1 saying so), where either signal alone would leave that folder behind.
 */
export async function runAuditExport(io: CliIo, opts: AuditExportCliOptions): Promise<number> {
  if (opts.from !== undefined && opts.to !== undefined && opts.from >= opts.to) {
    io.stderr(`error: --from (${opts.from}) must be before --to (${opts.to})\n`);
    return EXIT.usage;
  }
  const config = configOf(io, opts);
  const server = findServer(config, io.env, opts.url);
  const window: BundleWindow = { ...(opts.from ? { from: opts.from } : {}), ...(opts.to ? { to: opts.to } : {}) };
  const result: ExportBundleResult = await interruptible(({ signal }) => {
    const common = { window, out: opts.out, signal, ...(opts.json ? {} : { onProgress: progressReporter(io) }) };
    return server
      ? exportAuditBundle({ ...common, source: httpBundleSource(server, signal), exportedVia: 'server' })
      : withDatabase(config, (db, publicKeys) => exportAuditBundle({ ...common, source: dbBundleSource({ db, publicKeys }), exportedVia: 'database' }));
  });
  const m = result.manifest;
  if (opts.json) {
    const { files: _files, ...summary } = m;
    printJson(io, { out: result.out, ...summary });
    return EXIT.ok;
  }
  io.stdout(
    `wrote ${result.out}: leaves ${m.span.start}..${m.span.end - 1} (${m.span.end - m.span.start}) of ${m.origin}, ` +
      `${m.window.entries} recorded in the window, anchored by checkpoint ${m.checkpoint.size} signed by ${keyLabel(m.key)}\n`,
  );
  if (m.window.unsequenced > 0) {
    io.stderr(`warning: ${m.window.unsequenced} entries recorded in the window had no log index yet and are not in the bundle\n`);
  }
  return EXIT.ok;
}
