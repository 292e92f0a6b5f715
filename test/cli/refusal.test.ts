import { describe, expect, it } from 'vitest';
import { refusalError } from '../../src/cli/client.js';

// How the CLI reads a refusal, for JSON requests and file downloads alike.
describe('refusalError', () => {
  it('a problem+json answer keeps the server code, detail and fields; a code the CLI does not know reads as unavailable', () => {
    const text = JSON.stringify({ code: 'conflict', detail: 'loans v1 is not certified', errors: [{ field: 'params.version', detail: 'not certified (state: quarantine)' }] });
    const err = refusalError({ status: 409, statusText: 'Conflict', contentType: 'application/problem+json', text });
    expect(err).toMatchObject({ code: 'conflict', message: 'server answered 409: loans v1 is not certified', errors: [{ field: 'params.version', message: 'not certified (state: quarantine)' }] });
    expect(refusalError({ status: 418, statusText: 'Teapot', contentType: 'application/problem+json', text: JSON.stringify({ code: 'teapot' }) })).toMatchObject({ code: 'unavailable', message: 'server answered 418: Teapot' });
  });

  it("another answer (a proxy's HTML page) says what came instead, never a JSON parse error", () => {
    const err = refusalError({ status: 502, statusText: 'Bad Gateway', contentType: 'text/html', text: '<html><body>upstream down</body></html>' });
    expect(err).toMatchObject({ code: 'unavailable' });
    expect(err.message).toBe('server answered 502 Bad Gateway with text/html, not a problem: <html><body>upstream down</body></html>');
  });
});
