import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { BUILT_IN_ROLES } from '../../src/identity/index.js';
import type { PrincipalInput } from '../../src/policy/index.js';

/** A principal holding every built-in role and every clearance: only a forbid can stop it. */
export const OMNI: PrincipalInput = {
  id: 'prn_omni',
  kind: 'human',
  roles: [...BUILT_IN_ROLES],
  attributes: { clearance: ['PII', 'PHI', 'PCI'] },
};

/** A human holding exactly `roles`. */
export function holder(id: string, ...roles: string[]): PrincipalInput {
  return { id, kind: 'human', roles, attributes: {} };
}

/** Temporary directories, removed after the file's tests. */
export function tempDirs(): (files?: Record<string, string>) => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });
  return (files = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'assay-policy-'));
    dirs.push(dir);
    for (const [name, text] of Object.entries(files)) {
      mkdirSync(join(dir, name, '..'), { recursive: true });
      writeFileSync(join(dir, name), text);
    }
    return dir;
  };
}
