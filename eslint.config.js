// ESLint flat config for Assay. `npm run lint` = `eslint --max-warnings=0 .`, so every
// rule here is 'error' or 'off' — a warning would fail CI just the same, only less clearly.
// Exceptions are made here, per path, with the reason; never with eslint-disable comments.

import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import assay from './eslint/module-boundaries.js';

const TS_FILES = ['**/*.ts', '**/*.mts', '**/*.cts'];
const JS_FILES = ['**/*.js', '**/*.mjs', '**/*.cjs'];

// ---------------------------------------------------------------------------
// Architecture: the layer table for assay/module-boundaries.
//
// Modules are the folders under src/. Dependencies point one way:
//   adapters (api, cli, web) → domain (data, lineage, jobs, registry, serving, monitor, autonomy)
//   → middle (policy → identity → audit) → store → core
// A layer may import any layer below it (skipping is fine), never one above it. Each
// entry lists every module the key may import, always through `../<module>/index.js`.
const KERNEL = ['store', 'core'];
const DOMAIN = ['data', 'lineage', 'jobs', 'registry', 'serving', 'monitor', 'autonomy'];
const BELOW_DOMAIN = ['policy', 'identity', 'audit', ...KERNEL];

/** @type {Record<string, string[]>} */
const LAYERS = {
  core: [], // core imports no other module
  store: ['core'],
  audit: [...KERNEL], // audit → store, core only
  identity: ['audit', ...KERNEL],
  policy: ['audit', 'identity', ...KERNEL],
  // Domain modules may use each other's facades; assay/module-boundaries reports a
  // module cycle if two of them end up depending on each other (directly or not).
  ...Object.fromEntries(DOMAIN.map((m) => [m, [...DOMAIN.filter((d) => d !== m), ...BELOW_DOMAIN]])),
  api: [...DOMAIN, ...BELOW_DOMAIN], // api must not import cli (nor web)
  cli: ['api', ...DOMAIN, ...BELOW_DOMAIN], // the CLI starts the API server
  web: [...DOMAIN, ...BELOW_DOMAIN],
};

// ---------------------------------------------------------------------------
// Pure modules: canonical JSON, DSSE, the audit Merkle tree and policy evaluation must be
// deterministic, offline computations over their inputs, so they can be unit-tested and
// re-run by an auditor without a network or a database, and so that evidence they produce
// never depends on I/O. They therefore must not import networking or database clients.
// (Direct imports only; keep their own relative imports pure too.)
const PURE_FILES = ['src/core/canonical-json.ts', 'src/core/dsse.ts', 'src/audit/merkle*.ts', 'src/policy/**'];
const IMPURE_PACKAGES = [
  { name: 'node:net', why: 'raw sockets' },
  { name: 'net', why: 'raw sockets (bare alias of node:net)' },
  { name: 'node:http', why: 'HTTP client/server' },
  { name: 'http', why: 'HTTP client/server (bare alias of node:http)' },
  { name: 'pg', why: 'PostgreSQL client' },
  { name: '@electric-sql/pglite', why: 'embedded PostgreSQL' },
  { name: 'undici', why: 'HTTP client' },
];
const PURE_REASON = 'pure modules (canonical JSON, DSSE, audit Merkle, policy) must stay deterministic and offline';
const impureAlternation = IMPURE_PACKAGES.map((p) => p.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
// esquery (no-restricted-syntax) regex literals end at the first `/`: write slashes as \x2F.
const impureImportExpressionRegex = `^(?:${impureAlternation})(?:/.*)?$`.replaceAll('/', '\\x2F');

// Minimal Node globals for the plain-JS files (scripts, this config, the local plugin).
// The `globals` package is not installed; TypeScript files do not need this (no-undef is off there).
const NODE_GLOBALS = Object.fromEntries(
  [
    'process', 'console', 'Buffer', 'URL', 'URLSearchParams', 'setTimeout', 'clearTimeout',
    'setInterval', 'clearInterval', 'setImmediate', 'clearImmediate', 'queueMicrotask',
    'structuredClone', 'TextEncoder', 'TextDecoder', 'AbortController', 'AbortSignal', 'fetch',
  ].map((g) => [g, 'readonly']),
);

export default defineConfig([
  {
    name: 'assay/ignores',
    ignores: [
      'dist/',
      'node_modules/',
      'bench/results/',
      'coverage/',
      'bench/tmp/', // gitignored scratch probes, not part of the project
      '.assay/', // gitignored runtime home (keys, database)
    ],
  },

  {
    name: 'assay/js',
    files: JS_FILES,
    extends: [js.configs.recommended],
    languageOptions: { ecmaVersion: 'latest', sourceType: 'module', globals: NODE_GLOBALS },
  },

  {
    name: 'assay/typescript',
    files: TS_FILES,
    // `recommended`, not `recommended-type-checked`: type-aware linting needs a full
    // program per run and is many times slower; `tsc --noEmit` already type-checks.
    extends: [js.configs.recommended, tseslint.configs.recommended],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      // `const { dropped: _x, ...rest } = obj` is the idiomatic way to omit a property;
      // the named sibling of a rest element is intentionally unused.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },

  {
    name: 'assay/src',
    files: ['src/**/*.ts'],
    plugins: { assay },
    rules: {
      // File-level cycles are checked by dependency-cruiser (`npm run lint`, .dependency-cruiser.json):
      // eslint-plugin-import-x pulls in unrs-resolver, whose per-platform optional packages npm 11
      // leaves out of package-lock.json, which breaks `npm ci`. Module-level cycles: assay/module-boundaries.
      'assay/module-boundaries': ['error', { root: 'src', allow: LAYERS }],
      // Options objects over long parameter lists. The typescript-eslint variant of
      // `max-params` is used so a TypeScript `this: T` pseudo-parameter is not counted.
      'max-params': 'off',
      '@typescript-eslint/max-params': ['error', { max: 3 }],
      // Product code logs through pino, not the console.
      'no-console': 'error',
    },
  },

  {
    name: 'assay/pure-modules',
    files: PURE_FILES,
    rules: {
      // Extension of no-restricted-imports that also sees `import x = require()`.
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: IMPURE_PACKAGES.map((p) => ({ name: p.name, message: `${p.name} (${p.why}) is I/O; ${PURE_REASON}.` })),
          patterns: [
            {
              regex: `^(?:${impureAlternation})/`,
              message: `Subpath of an I/O package; ${PURE_REASON}.`,
            },
          ],
        },
      ],
      // …and dynamic import() of the same packages.
      'no-restricted-syntax': [
        'error',
        {
          selector: `ImportExpression[source.value=/${impureImportExpressionRegex}/]`,
          message: `Dynamic import of an I/O package; ${PURE_REASON}.`,
        },
      ],
    },
  },

  {
    // Exception: the CLI's job is to write to the terminal.
    name: 'assay/cli-console',
    files: ['src/cli/**'],
    rules: { 'no-console': 'off' },
  },

  {
    // Exception: scripts and benchmarks are developer tools that report to the terminal.
    // They may also import src internals (like tests do): the boundary rule only runs on src/.
    name: 'assay/tools-console',
    files: ['scripts/**', 'bench/**'],
    rules: { 'no-console': 'off' },
  },
]);
