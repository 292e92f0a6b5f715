import { appendFileSync, existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpRelay, type TcpRelay } from '../support/relay.js';
import { cliEnv, eventually, exitOf, spawnAssay, startServerWithSteward, type RunningServer } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-file-changed-'));
const home = join(root, 'home');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Upload files (spooled, partial) in the server's scratch directories under $ASSAY_HOME/tmp. */
function spooledUploads(): string[] {
  const tmp = join(home, 'tmp');
  if (!existsSync(tmp)) return [];
  return readdirSync(tmp, { recursive: true, encoding: 'utf8' }).filter((f) => /upload-[^/]*\.part$/.test(f));
}

/**
 * A TCP relay in front of the real server standing in for a slow network (nothing of Assay is
 * replaced): it passes the first bytes of an upload's connection on, then holds the rest until the
 * test releases it, so the CLI is mid-upload, its file open, when the test changes the file.
 */
function holdingRelay(target: string): TcpRelay & { started(): Promise<void>; release(): void } {
  let onStart: (() => void) | undefined;
  const held: Array<() => void> = [];
  const relay = tcpRelay(target, (client, upstream) => {
    upstream.pipe(client);
    client.once('data', (first: Buffer) => {
      upstream.write(first);
      // Only the upload is held: the CLI asks the dataset's latest version (a GET) first.
      if (first.subarray(0, 5).toString('latin1') !== 'POST ') {
        client.pipe(upstream);
        return;
      }
      client.pause();
      held.push(() => {
        client.pipe(upstream);
        client.resume();
      });
      onStart?.();
    });
  });
  return {
    ...relay,
    started: () => new Promise((resolve) => (onStart = resolve)),
    release: () => held.splice(0).forEach((go) => go()),
  };
}

/** A CSV file of about 32 MiB: more than the socket buffers between the CLI and the relay hold. */
function largeCsv(path: string): void {
  const rows: string[] = ['id,amount,country'];
  for (let i = 0; i < 1_500_000; i++) rows.push(`${i},${(i % 9973) / 7},DE`);
  writeFileSync(path, rows.join('\n') + '\n');
}

// Each test runs CLI processes: on a loaded machine each takes seconds to start.
describe('assay dataset ingest of a file that changes while it is being sent', { timeout: 180_000 }, () => {
  let server: RunningServer | undefined;
  let relay: ReturnType<typeof holdingRelay> | undefined;
  let relayUrl = '';
  let token = '';

  beforeAll(async () => {
    ({ server, token } = await startServerWithSteward(home));
    relay = holdingRelay(server.url);
    relayUrl = await relay.listen();
  });
  afterAll(async () => {
    await relay?.close();
    await server?.stop();
  });

  /** Starts the ingest of `file` as `name` through the relay; once it is sending, `change` alters the file; then the rest flows. */
  async function ingestWhileChanging(file: string, name: string, change: () => void) {
    const started = relay!.started();
    const child = spawnAssay(['--home', home, 'dataset', 'ingest', file, '--name', name, '--source-system', 'core', '--classification', 'internal', '--owner', 'stella', '--url', relayUrl], cliEnv({ ASSAY_TOKEN: token }));
    await started;
    change();
    relay!.release();
    const status = await exitOf(child);
    return { status, output: child.output() };
  }

  async function assertNothingIngested(name: string): Promise<void> {
    const res = await fetch(`${server!.url}/api/v1/datasets/${name}`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(404);
    // The server saw the body cut short of its Content-Length and removed what it had spooled.
    await eventually(() => (spooledUploads().length === 0 ? true : undefined));
  }

  it('a file truncated mid-upload: exit 1 saying it ended early, rather than waiting forever for the bytes announced; nothing ingested', async () => {
    const file = join(root, 'shrinks.csv');
    largeCsv(file);
    const r = await ingestWhileChanging(file, 'shrinks', () => truncateSync(file, 1000));
    expect(r.status, r.output).toBe(1);
    expect(r.output).toMatch(/error: cannot upload .*shrinks\.csv: it changed while it was being sent \(it ended after \d+ of its \d+ bytes\); the upload was aborted and nothing was ingested/);
    await assertNothingIngested('shrinks');
  });

  it('a file still being written (it grows mid-upload): exit 1, never a snapshot of part of it; nothing ingested', async () => {
    const file = join(root, 'grows.csv');
    largeCsv(file);
    const r = await ingestWhileChanging(file, 'grows', () => appendFileSync(file, '1500000,1.5,DE\n'));
    expect(r.status, r.output).toBe(1);
    expect(r.output).toMatch(/error: cannot upload .*grows\.csv: it changed while it was being sent \(it was (\d+) bytes and is now \d+\)/);
    await assertNothingIngested('grows');
  });

  it('the same file left alone goes through the relay as usual', async () => {
    const file = join(root, 'steady.csv');
    writeFileSync(file, 'id,amount\n1,10\n2,20\n');
    const r = await ingestWhileChanging(file, 'steady', () => undefined);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/^steady v1 {2}quarantine {2}csv {2}2 rows/);
  });
});
