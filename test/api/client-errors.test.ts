import { connect, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/app.js';
import { eachBackend } from '../support/databases.js';

/** Sends `request` as raw bytes and reads the whole answer (the server closes the connection). */
function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('utf8')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.end(request);
  });
}

/** Requests Node refuses before Fastify parses them (over-long headers, bytes that are no HTTP) still answer problem+json. */
describe.each(eachBackend().map((b) => [b.name, b] as const))('refusals before a request is parsed [%s]', (_name, backend) => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp(backend);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    port = (t.app.server.address() as AddressInfo).port;
  });
  afterAll(async () => t?.close());

  it('a query string past the 64 KiB header limit (a derivation\'s parameters far over theirs) is 431 problem+json naming headers', async () => {
    const parameters = encodeURIComponent(JSON.stringify({ k: 'x'.repeat(70_000) }));
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/datasets/feat/versions?sourceSystem=fs&parameters=${parameters}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.adminToken}`, 'content-type': 'text/csv' },
      body: 'a,b\n1,2\n',
    });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const problem = (await res.json()) as { status: number; code: string; requestId: string; errors: Array<{ field: string }> };
    expect(problem).toMatchObject({ status: 431, code: 'validation_failed', errors: [{ field: 'headers' }] });
    expect(res.headers.get('x-request-id')).toBe(problem.requestId);
  });

  it('bytes that are no HTTP request are 400 problem+json', async () => {
    const answer = await rawExchange(port, 'NOT HTTP AT ALL\r\n\r\n');
    const [head, body] = answer.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\nContent-Type: application\/problem\+json\r\n/i);
    expect(JSON.parse(body!)).toMatchObject({ status: 400, code: 'malformed_request' });
  });
});
