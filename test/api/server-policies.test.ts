import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer } from '../../src/api/index.js';
import { loadConfig, openKeyring, type AssayConfig } from '../../src/core/index.js';
import { loadPolicyEngine } from '../../src/policy/index.js';

/** An initialised home (keys only: the server creates the database), with `policies` as its site policies. */
async function homeWith(policies: Record<string, string>): Promise<AssayConfig> {
  const home = mkdtempSync(join(tmpdir(), 'assay-server-policies-'));
  homes.push(home);
  const config = loadConfig({ env: { ASSAY_HOME: home, ASSAY_LOG_LEVEL: 'silent', ASSAY_HOST: '127.0.0.1', ASSAY_PORT: '0' }, cwd: home });
  await (await openKeyring(config.paths.keys, { create: true })).generate();
  mkdirSync(config.paths.policies, { recursive: true });
  for (const [name, text] of Object.entries(policies)) writeFileSync(join(config.paths.policies, name), text);
  return config;
}

const homes: string[] = [];
afterEach(() => {
  for (const h of homes.splice(0)) rmSync(h, { recursive: true, force: true });
});

describe('the server loads the Cedar policies at start', () => {
  it('refuses to start on an invalid site policy, naming file and line, before touching the home', async () => {
    const config = await homeWith({
      'site.cedar': '@id("site.ok")\npermit (principal in Assay::Role::"auditor", action == Assay::Action::"getOpenApi", resource);\n\n@id("site.bad")\npermit (principal, action == Assay::Action::"deleteEverything", resource);\n',
    });
    const err = await startServer({ config, logger: pino({ level: 'silent' }) }).then(
      () => undefined,
      (e: unknown) => e as { code: string; message: string },
    );
    expect(err?.code).toBe('config_invalid');
    expect(err?.message).toMatch(/site\.cedar:5:\d+/);
    expect(existsSync(config.paths.lock)).toBe(false);
    expect(existsSync(config.paths.serverInfo)).toBe(false);
    expect(existsSync(config.paths.db)).toBe(false);
  });

  it('starts with valid site policies and reports the policy set in force on /readyz', async () => {
    const config = await homeWith({
      'site.cedar': '@id("site.scientists-read-audit-status")\npermit (principal in Assay::Role::"data-scientist", action == Assay::Action::"getAuditStatus", resource);\n',
    });
    const server = await startServer({ config, logger: pino({ level: 'silent' }) });
    try {
      const ready = await fetch(`${server.url}/readyz`);
      expect(ready.status).toBe(200);
      const body = (await ready.json()) as { policyDigest: string };
      expect(body.policyDigest).toBe((await loadPolicyEngine({ siteDir: config.paths.policies })).digest);
      expect(body.policyDigest).not.toBe((await loadPolicyEngine()).digest);
    } finally {
      await server.close();
    }
  });
});
