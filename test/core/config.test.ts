import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigInvalid, loadConfig } from '../../src/core/index.js';
import { tempDirs } from '../support/temp-dirs.js';

const temp = tempDirs();
afterAll(() => temp.removeAll());

function failure(fn: () => unknown): ConfigInvalid {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigInvalid) return err;
    throw err;
  }
  throw new Error('expected ConfigInvalid');
}

describe('configuration', () => {
  const cwd = temp.make('assay-config-');

  it('applies defaults and derives paths from the home', () => {
    const c = loadConfig({ env: {}, cwd });
    expect(c.home).toBe(join(cwd, '.assay'));
    expect(c.port).toBe(7600);
    expect(c.host).toBe('127.0.0.1');
    expect(c.databaseUrl).toBeUndefined();
    expect(c.blobStore).toEqual({ kind: 'fs', root: join(cwd, '.assay', 'blobs') });
    expect(c.paths.adminToken).toBe(join(cwd, '.assay', 'admin.token'));
  });

  it('reads the environment, and flags win over it', () => {
    const c = loadConfig({
      env: { ASSAY_HOME: 'h', ASSAY_PORT: '8123', DATABASE_URL: 'postgres://x@127.0.0.1/db' },
      cwd,
      overrides: { port: 9000 },
    });
    expect(c.home).toBe(join(cwd, 'h'));
    expect(c.port).toBe(9000);
    expect(c.databaseUrl).toBe('postgres://x@127.0.0.1/db');
  });

  it('names a bad environment value', () => {
    const err = failure(() => loadConfig({ env: { ASSAY_PORT: 'eighty' }, cwd }));
    expect(err.errors.map((e) => e.field)).toEqual(['port']);
    expect(err.message).toContain('ASSAY_PORT');
  });

  it('reads whole numbers from the environment as decimal digits only: 0x10, 1e3, padded, fractional or zero-led values stop the start', () => {
    for (const bad of ['0x10', '1e3', ' 8080', '8080 ', '80.0', '-1', '08080']) {
      const err = failure(() => loadConfig({ env: { ASSAY_PORT: bad }, cwd }));
      expect(err.errors.map((e) => e.field), JSON.stringify(bad)).toEqual(['port']);
    }
    expect(loadConfig({ env: { ASSAY_PORT: '8080', ASSAY_MAX_JSON_BODY_BYTES: '2048' }, cwd })).toMatchObject({ port: 8080, maxJsonBodyBytes: 2048 });
    const home = temp.make('assay-cfg-');
    writeFileSync(join(home, 'config.json'), JSON.stringify({ port: 7601.5 }));
    expect(failure(() => loadConfig({ env: { ASSAY_HOME: home }, cwd })).errors.map((e) => e.field)).toEqual(['port']);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ port: 7601, lineage: { emitMaxRetries: '2' }, audit: { purgeIntervalSeconds: '0' } }));
    expect(loadConfig({ env: { ASSAY_HOME: home }, cwd })).toMatchObject({ port: 7601, lineage: { emitMaxRetries: 2 }, audit: { purgeIntervalSeconds: 0 } });
    writeFileSync(join(home, 'config.json'), JSON.stringify({ lineage: { emitMaxRetries: '02' } }));
    expect(failure(() => loadConfig({ env: { ASSAY_HOME: home }, cwd })).errors.map((e) => e.field)).toEqual(['lineage.emitMaxRetries']);
  });

  it('names an unknown ASSAY_ environment variable (a typo never falls back to a default)', () => {
    const err = failure(() => loadConfig({ env: { ASSAY_PROT: '1' }, cwd }));
    expect(err.errors).toEqual([{ field: 'ASSAY_PROT', message: 'unknown environment variable' }]);
  });

  it('names unknown and bad keys in the config file', () => {
    const home = temp.make('assay-config-home-');
    writeFileSync(join(home, 'config.json'), JSON.stringify({ port: 70000, colour: 'blue', blobStore: { kind: 'tape' } }));
    const err = failure(() => loadConfig({ env: { ASSAY_HOME: home }, cwd }));
    const fields = err.errors.map((e) => e.field).sort();
    expect(fields).toEqual(['blobStore.kind', 'colour', 'port']);
    expect(err.message).toContain(join(home, 'config.json'));
  });

  it('bounds break-glass elevation: one hour by default, configurable up to a day, named when wrong', () => {
    expect(loadConfig({ env: {}, cwd }).breakGlass.maxMinutes).toBe(60);
    expect(loadConfig({ env: {}, cwd }).paths.policies).toBe(join(cwd, '.assay', 'policies'));
    const home = temp.make('assay-config-home-');
    writeFileSync(join(home, 'config.json'), JSON.stringify({ breakGlass: { maxMinutes: 30 } }));
    expect(loadConfig({ env: { ASSAY_HOME: home }, cwd }).breakGlass.maxMinutes).toBe(30);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ breakGlass: { maxMinutes: 0 } }));
    expect(failure(() => loadConfig({ env: { ASSAY_HOME: home }, cwd })).errors.map((e) => e.field)).toEqual(['breakGlass.maxMinutes']);
  });

  it('refuses a schedule longer than a Node timer holds (2^31 - 1 ms), which would run it every millisecond, and a grace no date can subtract', () => {
    const home = temp.make('assay-config-home-');
    const load = (settings: object) => {
      writeFileSync(join(home, 'config.json'), JSON.stringify(settings));
      return loadConfig({ env: { ASSAY_HOME: home }, cwd });
    };
    // 30 days: an operator's monthly sweep or purge; Node would clamp its timer to 1 ms.
    const month = 30 * 24 * 60 * 60;
    const err = failure(() => load({ data: { pendingBlobSweepIntervalSeconds: month, transferIdleTimeoutSeconds: month }, audit: { purgeIntervalSeconds: month } }));
    expect(err.errors.map((e) => e.field).sort()).toEqual(['audit.purgeIntervalSeconds', 'data.pendingBlobSweepIntervalSeconds', 'data.transferIdleTimeoutSeconds']);
    // An upload's idle limit is a timer too, of at least a second: there is no turning it off.
    expect(failure(() => load({ data: { transferIdleTimeoutSeconds: 0 } })).errors.map((e) => e.field)).toEqual(['data.transferIdleTimeoutSeconds']);
    expect(load({}).data.transferIdleTimeoutSeconds).toBe(300);
    expect(err.message).toContain('an integer from 0 to 2147483');
    const longest = load({ data: { pendingBlobSweepIntervalSeconds: 2147483 }, audit: { purgeIntervalSeconds: 2147483 } });
    expect(longest.data.pendingBlobSweepIntervalSeconds * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
    expect(longest.audit.purgeIntervalSeconds * 1000).toBeLessThanOrEqual(2 ** 31 - 1);
    // The sweep's cutoff is now minus the grace: 2^53 - 1 seconds is no date, and every sweep threw.
    expect(failure(() => load({ data: { pendingBlobGraceSeconds: Number.MAX_SAFE_INTEGER } })).errors.map((e) => e.field)).toEqual(['data.pendingBlobGraceSeconds']);
    const century = load({ data: { pendingBlobGraceSeconds: 100 * 365 * 24 * 60 * 60 } }).data.pendingBlobGraceSeconds;
    expect(new Date(Date.now() - century * 1000).toISOString()).toMatch(/^19\d\d-/);
  });

  it('refuses a DuckDB memory limit below 64MB, with which every ingest ran out of memory, naming the setting', () => {
    const home = temp.make('assay-config-home-');
    const load = (duckdbMemoryLimit: string) => {
      writeFileSync(join(home, 'config.json'), JSON.stringify({ data: { duckdbMemoryLimit } }));
      return loadConfig({ env: { ASSAY_HOME: home }, cwd });
    };
    // KB, MB… count in thousands as DuckDB reads them, KiB, MiB… in 1024s: 61MiB is 63.96MB.
    for (const small of ['1KB', '1MB', '32MB', '63.9MB', '61MiB', '0.06GB', '1kib']) {
      const err = failure(() => load(small));
      expect(err.errors, small).toEqual([{ field: 'data.duckdbMemoryLimit', message: expect.stringMatching(/^must be at least 64MB: /) }]);
    }
    // Not a size at all: one issue, not the floor's as well.
    expect(failure(() => load('lots')).errors).toEqual([{ field: 'data.duckdbMemoryLimit', message: expect.stringMatching(/^must be a size such as 512MB or 4GB/) }]);
    for (const enough of ['64MB', '64MiB', '0.064GB', '64 mb', '2GB']) expect(load(enough).data.duckdbMemoryLimit).toBe(enough);
    expect(loadConfig({ env: {}, cwd }).data.duckdbMemoryLimit).toBe('2GB');
  });

  it('names the environment variable for a bad value set in both the file and the environment: the environment wins', () => {
    const home = temp.make('assay-config-home-');
    writeFileSync(join(home, 'config.json'), JSON.stringify({ port: 7000, host: 7 }));
    const err = failure(() => loadConfig({ env: { ASSAY_HOME: home, ASSAY_PORT: 'eighty' }, cwd }));
    expect(err.errors).toEqual([
      { field: 'host', message: expect.stringMatching(new RegExp(`\\(from ${join(home, 'config.json')}\\)$`)) },
      { field: 'port', message: expect.stringMatching(/\(from ASSAY_PORT\)$/) },
    ]);
  });

  it('says what a whole-number setting wants when the value is not one, rather than "Invalid input"', () => {
    for (const port of ['eighty', '0x1db0', '07600', ' 7600']) {
      expect(failure(() => loadConfig({ env: { ASSAY_PORT: port }, cwd })).errors, port).toEqual([
        { field: 'port', message: 'an integer from 0 to 65535: a JSON number in the file, decimal digits without leading zeros in a variable or flag (from ASSAY_PORT)' },
      ]);
    }
    expect(failure(() => loadConfig({ env: { ASSAY_PORT: '70000' }, cwd })).errors).toEqual([{ field: 'port', message: 'an integer from 0 to 65535 (from ASSAY_PORT)' }]);
  });

  it('rejects a config file that is not JSON, naming the file', () => {
    const home = temp.make('assay-config-home-');
    writeFileSync(join(home, 'config.json'), '{ port: 1 ');
    const err = failure(() => loadConfig({ env: { ASSAY_HOME: home }, cwd }));
    expect(err.errors[0]?.field).toBe(join(home, 'config.json'));
  });

  it('rejects a database URL that is not PostgreSQL', () => {
    const err = failure(() => loadConfig({ env: { DATABASE_URL: 'mysql://root@localhost/x' }, cwd }));
    expect(err.errors[0]?.field).toBe('databaseUrl');
    expect(err.message).toContain('DATABASE_URL');
  });

  it('builds an S3 blob store config from the environment', () => {
    const c = loadConfig({ env: { ASSAY_BLOB_STORE: 's3', ASSAY_S3_BUCKET: 'evidence', ASSAY_S3_ENDPOINT: 'http://127.0.0.1:9000' }, cwd });
    expect(c.blobStore).toMatchObject({ kind: 's3', bucket: 'evidence', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true });
    const err = failure(() => loadConfig({ env: { ASSAY_BLOB_STORE: 's3' }, cwd }));
    expect(err.errors.map((e) => e.field)).toContain('blobStore.bucket');
  });
});
