import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { ESLint, RuleTester } from 'eslint';
import tseslint from 'typescript-eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { moduleBoundaries } from '../../eslint/module-boundaries.js';

// RuleTester turns every case into a vitest test.
RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

// A fixture source root on disk: the cycle check reads the other modules' files.
// lineage/graph.ts already imports data's facade, so data → lineage would close a cycle.
const root = mkdtempSync(join(tmpdir(), 'assay-lint-'));
const fixture: Record<string, string> = {
  'lineage/index.ts': "export { edges } from './graph.js';\n",
  'lineage/graph.ts': "import type { Dataset } from '../data/index.js';\nexport const edges: Dataset[] = [];\n",
  'data/index.ts': 'export type Dataset = { id: string };\n',
};
for (const [rel, text] of Object.entries(fixture)) {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Small excerpt of the architecture's layer table (the real one is in eslint.config.js).
const allow = {
  core: [],
  store: ['core'],
  audit: ['store', 'core'],
  identity: ['audit', 'store', 'core'],
  data: ['lineage', 'identity', 'audit', 'store', 'core'],
  lineage: ['data', 'identity', 'audit', 'store', 'core'],
  api: ['data', 'lineage', 'identity', 'audit', 'store', 'core'],
  cli: ['api', 'data', 'lineage', 'identity', 'audit', 'store', 'core'],
};
const options = [{ root, allow }];
const file = (rel: string): string => join(root, rel);

const ruleTester = new RuleTester({
  languageOptions: { parser: tseslint.parser, ecmaVersion: 'latest', sourceType: 'module' },
});

ruleTester.run('assay/module-boundaries', moduleBoundaries, {
  valid: [
    {
      name: 'facade import in the layer direction (identity → audit)',
      filename: file('identity/principals.ts'),
      code: "import { appendAuditEntry } from '../audit/index.js';",
      options,
    },
    {
      name: 'type-only facade import, and export-from a lower facade',
      filename: file('api/route.ts'),
      code: "import type { Db } from '../store/index.js';\nexport { newId } from '../core/index.js';",
      options,
    },
    {
      name: 'cli may import api (the CLI starts the server)',
      filename: file('cli/main.ts'),
      code: "const { start } = await import('../api/index.js');",
      options,
    },
    {
      name: 'internal imports within a module are free',
      filename: file('store/blob/fs/blob-store.ts'),
      code: "import { spool } from '../spool.js';\nimport type { Db } from '../../db/types.js';",
      options,
    },
    {
      name: 'packages and node built-ins are not this rule’s business',
      filename: file('core/hash.ts'),
      code: "import { createHash } from 'node:crypto';\nimport { z } from 'zod';",
      options,
    },
    {
      name: 'tests may import module internals',
      filename: join(dirname(root), 'test', 'store', 'blob.test.ts'),
      code: `import { verify } from '${join(root, 'store/blob/verify.js')}';\nimport { x } from '../../src/store/blob/verify.js';`,
      options,
    },
  ],
  invalid: [
    {
      name: 'deep import into another module',
      filename: file('store/blob/verify.ts'),
      code: "import { BlobCorrupt } from '../../core/errors.js';",
      options,
      errors: [
        {
          messageId: 'deepImport',
          data: {
            from: 'store',
            to: 'core',
            specifier: '../../core/errors.js',
            target: relative(process.cwd(), join(root, 'core/errors.js')),
            facade: '../../core/index.js',
          },
        },
      ],
    },
    {
      name: 'import against the layer direction (core → store)',
      filename: file('core/config.ts'),
      code: "import type { Db } from '../store/index.js';",
      options,
      errors: [{ messageId: 'layer', data: { from: 'core', to: 'store', allowed: '(no other module)' } }],
    },
    {
      name: 'api must not import cli',
      filename: file('api/server.ts'),
      code: "export { run } from '../cli/index.js';",
      options,
      errors: [{ messageId: 'layer', data: { from: 'api', to: 'cli', allowed: allow.api.join(', ') } }],
    },
    {
      name: 'domain module must not import an adapter, and deep at that: two findings',
      filename: file('data/ingest.ts'),
      code: "import type { Route } from '../api/route.js';",
      options,
      errors: [{ messageId: 'deepImport' }, { messageId: 'layer' }],
    },
    {
      name: 'domain ↔ domain facades are allowed, but not in a cycle',
      filename: file('data/datasets.ts'),
      code: "import { edges } from '../lineage/index.js';",
      options,
      errors: [
        {
          messageId: 'cycle',
          data: { from: 'data', to: 'lineage', route: 'data → lineage → data', via: 'lineage/graph.ts' },
        },
      ],
    },
    {
      name: 'module folder missing from the layer table',
      filename: file('billing/invoice.ts'),
      code: "import { newId } from '../core/index.js';",
      options,
      errors: [{ messageId: 'unknownModule', data: { module: 'billing' }, line: 1, column: 1 }],
    },
  ],
});

describe('eslint.config.js wiring', () => {
  // Lints virtual files with the real config and layer table (no files are written).
  const eslint = new ESLint({ cwd: join(import.meta.dirname, '..', '..') });
  const ruleIds = async (filePath: string, code: string): Promise<(string | null)[]> => {
    const [result] = await eslint.lintText(code, { filePath });
    return result?.messages.map((m) => m.ruleId) ?? ['<no result>'];
  };

  it('accepts a facade import in the layer direction', async () => {
    expect(await ruleIds('src/identity/x.ts', "export { appendAuditEntry } from '../audit/index.js';\n")).toEqual([]);
  });

  it('rejects deep and wrong-direction imports', async () => {
    expect(await ruleIds('src/audit/x.ts', "export { sha256Hex } from '../core/hash.js';\n")).toEqual([
      'assay/module-boundaries',
    ]);
    expect(await ruleIds('src/audit/x.ts', "export type { Actor } from '../identity/index.js';\n")).toEqual([
      'assay/module-boundaries',
    ]);
  });

  it('keeps I/O packages out of pure modules', async () => {
    expect(await ruleIds('src/policy/eval.ts', "import pg from 'pg';\nexport const p = pg;\n")).toEqual([
      '@typescript-eslint/no-restricted-imports',
    ]);
  });

  it('lets tests import internals', async () => {
    expect(await ruleIds('test/x.test.ts', "export { sha256Hex } from '../src/core/hash.js';\n")).toEqual([]);
  });
});
