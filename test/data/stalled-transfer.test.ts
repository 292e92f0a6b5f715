import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPrincipalWithToken, createTestApp, type TestApp } from '../support/app.js';
import { eventually } from '../support/cli.js';
import { eachBackend } from '../support/databases.js';
import { leftovers, upload } from './support.js';

/**
 * A client that stops sending mid-body without going away (a half-open connection after a
 * firewall drops its state, a CLI reading a file on a hung NFS mount): with no limit the server
 * held the partial spool, raw data, forever, and a server told to stop (SIGTERM) waited for the
 * request forever. After data.transferIdleTimeoutSeconds of silence the upload is refused.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('an upload that stalls halfway [%s]', { timeout: 30_000 }, (_name, backend) => {
  let t: TestApp;
  let steward: { id: string; token: string };
  let port: number;
  const clients: Socket[] = [];
  /** A raw connection to the server, destroyed after the suite whatever happened. */
  const client = (): Socket => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    clients.push(socket);
    return socket;
  };

  beforeAll(async () => {
    t = await createTestApp(backend, { config: { data: { transferIdleTimeoutSeconds: 1 } } });
    steward = await createPrincipalWithToken(t.db, { name: 'steward', roles: ['data-steward'] });
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of clients) socket.destroy();
    await t?.close();
  });

  it('is refused with 400 naming body and the setting, the connection closed, nothing left behind; the server takes the next upload', async () => {
    const body = Buffer.from('id,text\n' + Array.from({ length: 20_000 }, (_, i) => `${i},row ${i}\n`).join(''));
    const socket = client();
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString('utf8')));
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /api/v1/datasets/stalled/versions?sourceSystem=s&classification=internal&owner=steward HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${steward.token}\r\nContent-Type: text/csv\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, body.length / 2));
    // The client neither sends the rest nor goes away: the server ends it.
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    const problem = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { detail: string; errors: Array<{ field: string }> };
    expect(problem.detail).toMatch(/^upload stalled: no bytes arrived for 1 s \(data\.transferIdleTimeoutSeconds\) after \d+ bytes; nothing was kept$/);
    expect(problem.errors).toEqual([{ field: 'body', detail: 'nothing sent for 1 s' }]);
    await eventually(async () => ((await leftovers(t)).spooled.length === 0 ? true : undefined), 20);
    expect(await leftovers(t)).toEqual({ versions: 0, datasets: 0, blobs: 0, spooled: [] });

    // A slow upload that keeps sending is no stalled one, and the server is healthy.
    const ok = await fetch(`http://127.0.0.1:${port}/api/v1/datasets/stalled/versions?sourceSystem=s&classification=internal&owner=steward`, {
      method: 'POST',
      headers: { authorization: `Bearer ${steward.token}`, 'content-type': 'text/csv' },
      body,
    });
    expect(ok.status).toBe(201);
  });

  it('a stopping server is not held by a stalled upload: close() ends once the upload is refused', async () => {
    const socket = client();
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(
      `POST /api/v1/datasets/stalled2/versions?sourceSystem=s&classification=internal&owner=steward HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${steward.token}\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\nid,text\n1,a\n`,
    );
    await eventually(async () => ((await leftovers(t)).spooled.length > 0 ? true : undefined), 20);
    // Without the limit this never resolves (the test's timeout fails it).
    await t.app.close();
    expect((await leftovers(t)).spooled).toEqual([]);
  });
});

/**
 * A client that stops reading a certified Parquet download without going away held the
 * response, and a stopping server, forever. After data.transferIdleTimeoutSeconds in which the
 * connection moves no byte, the server ends the response short of its Content-Length.
 */
describe.each(eachBackend().map((b) => [b.name, b] as const))('a download that stalls halfway [%s]', { timeout: 60_000 }, (_name, backend) => {
  let t: TestApp;
  let reader: { id: string; token: string };
  let port: number;
  let socket: Socket | undefined;

  beforeAll(async () => {
    t = await createTestApp(backend, { config: { data: { transferIdleTimeoutSeconds: 1 } } });
    const ingester = await createPrincipalWithToken(t.db, { name: 'ingester', roles: ['data-steward'] });
    reader = await createPrincipalWithToken(t.db, { name: 'promoter', roles: ['data-steward'] });
    // Random letters (no digits, which PII detectors read): a Parquet file of several MB, more than the socket buffers between server and client hold.
    const rows = Array.from({ length: 600_000 }, (_, i) => `${i},${randomBytes(16).toString('hex').replace(/\d/g, (d) => 'ghijklmnop'[Number(d)]!)}`);
    const res = await upload(t, { name: 'wide', body: `id,token\n${rows.join('\n')}\n`, token: ingester.token, query: { classification: 'internal', owner: 'ingester' } });
    expect(res.statusCode, res.body).toBe(201);
    const promoted = await t.app.inject({ method: 'POST', url: '/api/v1/datasets/wide/versions/1/promote', headers: { authorization: `Bearer ${reader.token}` } });
    expect(promoted.statusCode, promoted.body).toBe(200);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as { port: number }).port;
    // Ingesting and certifying the file takes seconds on a loaded machine.
  }, 120_000);
  afterAll(async () => {
    socket?.destroy();
    await t?.close();
  });

  it('is ended short of its Content-Length once nothing moves for the limit, so a stopping server is not held; the download stays audited', async () => {
    socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    let received = Buffer.alloc(0);
    let stopped = false;
    const headersSeen = new Promise<void>((resolve) => {
      socket!.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
        if (!stopped && received.includes('\r\n\r\n')) {
          stopped = true;
          // The reader stops reading, without going away.
          socket!.pause();
          resolve();
        }
      });
    });
    await new Promise((resolve) => socket!.once('connect', resolve));
    socket.write(`GET /api/v1/datasets/wide/versions/1/parquet HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${reader.token}\r\n\r\n`);
    await headersSeen;
    const length = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(received.toString('latin1'))?.[1]);
    expect(length).toBeGreaterThan(8 * 1024 * 1024);
    const ended = new Promise((resolve) => socket!.once('close', resolve));
    // Without the limit this never resolves (the test's timeout fails it): close() waits for the response.
    await t.app.close();
    socket.resume();
    await ended;
    const body = received.length - (received.indexOf('\r\n\r\n') + 4);
    expect(body).toBeLessThan(length);
    expect((await t.db.query(`SELECT 1 FROM audit_entries WHERE action = 'dataset.download'`)).rowCount).toBe(1);
  });
});
