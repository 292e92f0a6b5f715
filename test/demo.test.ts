import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// `npm run demo` is part of the definition of done; running it here keeps it green in CI.
// It drives the built CLI (dist/), which `npm ci` produces through the `prepare` script.
describe('npm run demo', () => {
  it.skipIf(!existsSync('dist/cli/main.js'))('runs init → server → readyz → stop and exits 0', () => {
    const r = spawnSync(process.execPath, ['scripts/demo.mjs'], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stderr).not.toMatch(/demo failed/);
    expect(r.stdout).toContain('Demo complete.');
    expect(r.status).toBe(0);
    // The demo runs every lifecycle stage through the real server and CLI: on a loaded 2-CPU machine that takes minutes.
  }, 300_000);
});
