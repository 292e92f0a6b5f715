import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tcpRelay, type TcpRelay } from '../support/relay.js';
import { cliEnv, eventually, exitOf, fetchFresh, runAssay, spawnAssay, startServerWithSteward, type RunningServer } from '../support/cli.js';

const root = mkdtempSync(join(tmpdir(), 'assay-cli-answer-lost-'));
const home = join(root, 'home');
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A TCP relay in front of the real server standing in for a proxy whose idle timeout cuts a
 * connection while the server checks a large upload (nothing of Assay is replaced): every
 * connection is passed on both ways, except that on a connection that began with a POST, the
 * server's answer never reaches the client: the relay closes both sides when it begins.
 */
function answerCuttingRelay(target: string): TcpRelay {
  return tcpRelay(target, (client, upstream) => {
    client.once('data', (first: Buffer) => {
      if (first.subarray(0, 5).toString('latin1') === 'POST ') {
        upstream.once('data', () => {
          client.destroy();
          upstream.destroy();
        });
      } else {
        upstream.pipe(client);
      }
    });
    client.pipe(upstream);
  });
}

// Each test runs CLI processes: on a loaded machine each takes seconds to start.
describe('assay dataset ingest whose answer is lost after the whole file was sent', { timeout: 180_000 }, () => {
  let server: RunningServer | undefined;
  let relay: ReturnType<typeof answerCuttingRelay> | undefined;
  let relayUrl = '';
  let token = '';

  beforeAll(async () => {
    ({ server, token } = await startServerWithSteward(home));
    relay = answerCuttingRelay(server.url);
    relayUrl = await relay.listen();
  });
  afterAll(async () => {
    await relay?.close();
    await server?.stop();
  });

  const ingestArgs = (file: string, name: string, extra: string[]) => ['--home', home, 'dataset', 'ingest', file, '--name', name, '--source-system', 'core', '--classification', 'internal', '--owner', 'stella', ...extra];

  /** Ingests straight to the server (spawnSync: the relay, in this process, is not used). */
  const ingest = (file: string, name: string, ...extra: string[]) => runAssay(ingestArgs(file, name, extra), cliEnv({ ASSAY_TOKEN: token }));

  /** Ingests through the relay, which runs in this process: the CLI must run alongside, not block it. */
  async function ingestThroughRelay(file: string, name: string, ...extra: string[]): Promise<{ status: number | string; stdout: string; stderr: string }> {
    const child = spawnAssay(ingestArgs(file, name, ['--url', relayUrl, ...extra]), cliEnv({ ASSAY_TOKEN: token }));
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const status = await exitOf(child);
    return { status, stdout, stderr };
  }

  async function versionsOf(name: string): Promise<Array<{ version: number; snapshot: { sha256: string } }>> {
    const res = await fetchFresh(`${server!.url}/api/v1/datasets/${name}/versions`, { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 404) return [];
    return ((await res.json()) as { versions: Array<{ version: number; snapshot: { sha256: string } }> }).versions;
  }

  it('finds the version the server made from the file and prints it as if answered (exit 0), never one made before from the same bytes', async () => {
    const file = join(root, 'loans.csv');
    writeFileSync(file, 'id,amount\n1,10\n2,20\n3,30\n');
    // v1 from the same bytes, answered directly: the lost answer's version is the next one.
    expect(ingest(file, 'loans', '--url', server!.url).status).toBe(0);

    const r = await ingestThroughRelay(file, 'loans');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^loans v2 {2}quarantine {2}csv {2}3 rows {2}sha256:[0-9a-f]{64}/);
    expect(r.stderr).toMatch(/closed after the whole file was sent, before the server answered .*looking for a version of loans newer than v1 with snapshot sha256:[0-9a-f]{64}/);
    expect(r.stderr).toContain('found it: the server made loans v2 from this file');
    const versions = await versionsOf('loans');
    expect(versions.map((v) => v.version)).toEqual([1, 2]);
    expect(r.stdout).toContain(`sha256:${versions[1]!.snapshot.sha256}`);
  });

  it('says what to check before sending again when no version appears in time (the server refused the file): exit 1', async () => {
    const file = join(root, 'broken.csv');
    // Invalid UTF-8: the server refuses it once the body has arrived, and that answer is what the relay cuts.
    writeFileSync(file, Buffer.concat([Buffer.from('id,name\n1,'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
    const r = await ingestThroughRelay(file, 'broken', '--answer-wait', '3');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(
      /error: a version of broken \(its first\) with snapshot sha256:[0-9a-f]{64} did not appear within 3 s: the server may still be checking the file, or may have refused it; look with `assay dataset show broken` before sending the file again/,
    );
    expect(await versionsOf('broken')).toEqual([]);
  });

  it('with --answer-wait 0 only reports that the server may have made the version (exit 1), and it did', async () => {
    const file = join(root, 'once.csv');
    writeFileSync(file, 'id,amount\n1,10\n');
    const r = await ingestThroughRelay(file, 'once', '--answer-wait', '0');
    expect(r.status, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/error: .*closed after the whole file was sent, before the server answered .*; the server may have made a version of once with snapshot sha256:[0-9a-f]{64}: look with `assay dataset show once`/);
    expect(r.stderr).not.toContain('looking for');
    // The server finishes an ingest whose client went away.
    await eventually(async () => ((await versionsOf('once')).length === 1 ? true : undefined));
  });

  it('a missing FILE is refused before the server is asked anything (the look at its latest version comes after)', async () => {
    let connections = 0;
    const counting = tcpRelay(server!.url, (client, upstream) => {
      connections++;
      client.pipe(upstream);
      upstream.pipe(client);
    });
    const url = await counting.listen();
    try {
      const child = spawnAssay(ingestArgs(join(root, 'no-such.csv'), 'absent', ['--url', url]), cliEnv({ ASSAY_TOKEN: token }));
      expect(await exitOf(child)).toBe(1);
      expect(child.output()).toContain('cannot read');
      expect(connections).toBe(0);
    } finally {
      await counting.close();
    }
  });

  it('refuses an --answer-wait that is not whole seconds before sending anything (exit 2)', async () => {
    const file = join(root, 'never.csv');
    writeFileSync(file, 'id\n1\n');
    const r = ingest(file, 'never', '--url', server!.url, '--answer-wait', '1.5');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("option '--answer-wait <seconds>' argument '1.5' is invalid. must be a whole number of seconds");
    expect(await versionsOf('never')).toEqual([]);
  });
});
