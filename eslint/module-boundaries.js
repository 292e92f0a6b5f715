// Local ESLint plugin `assay`: enforces Assay's module architecture.
//
// A "module" is a top-level folder under the source root (`src/<module>/`). The rule
// `assay/module-boundaries` looks at every relative import/export/require/import()
// specifier in a file under `src/<module>/`, resolves it to a path and reports:
//
//   deepImport   the target is inside another module but is not that module's facade
//                (`src/<other>/index.ts`, imported as `../<other>/index.js`);
//   layer        the target module is not in the importing module's allow-list
//                (the layer table lives in eslint.config.js, not here);
//   cycle        the import is allowed by the table but the target module already
//                depends (transitively, through any relative import, including type-only
//                ones) on the importing module, so the two would form a module cycle.
//                Only needed where the table allows both directions (domain ↔ domain);
//                file-level cycle checks (dependency-cruiser) miss cycles that pass through facades
//                without closing a file loop, and ignores type-only imports;
//   unknownModule the importing or imported folder is not in the table at all, so a
//                new module cannot slip in without someone deciding its layer.
//
// Bare specifiers (packages, `node:` built-ins) are ignored here; purity rules for
// packages live in eslint.config.js. Files outside the source root (test/, bench/,
// scripts/) and files directly in it (no module folder) are not checked.

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const FACADE_FILES = new Set(['index.ts', 'index.js']);
const SOURCE_FILE = /\.(?:[cm]?ts|[cm]?js|tsx|jsx)$/;

/** @param {string} p */
const toPosix = (p) => p.split(path.sep).join('/');

/**
 * Where `absPath` sits relative to the source root.
 * @param {string} root absolute source root
 * @param {string} absPath absolute path
 * @returns {{ module: string, rest: string } | null} null when outside the root or directly in it
 */
function locate(root, absPath) {
  const rel = path.relative(root, absPath);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return null;
  const parts = toPosix(rel).split('/');
  if (parts.length < 2) return null;
  return { module: /** @type {string} */ (parts[0]), rest: parts.slice(1).join('/') };
}

// ---------------------------------------------------------------------------
// Module graph for cycle detection, read from disk. Per-file results are cached by
// mtime/size so a long-lived ESLint (editor integration) stays correct and a CLI run
// over many files parses each file once.

/** @type {Map<string, { mtimeMs: number, size: number, specifiers: string[] }>} */
const fileCache = new Map();

/** @param {string} file */
function relativeSpecifiers(file) {
  let st;
  try {
    st = statSync(file);
  } catch {
    return [];
  }
  const hit = fileCache.get(file);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.specifiers;
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  // preProcessFile is TypeScript's fast import scanner: it skips comments and strings,
  // and sees import/export-from, `import type`, import() and require().
  const specifiers = ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((s) => s.startsWith('.'));
  fileCache.set(file, { mtimeMs: st.mtimeMs, size: st.size, specifiers });
  return specifiers;
}

/**
 * @param {string} dir
 * @param {string[]} out
 */
function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') walk(p, out);
    } else if (SOURCE_FILE.test(e.name)) {
      out.push(p);
    }
  }
  return out;
}

/**
 * Module-level dependency graph of everything under `root`, keeping only edges the layer
 * table allows: a disallowed edge is already reported as a layer error where it is, and
 * blaming the legitimate edge that closes the loop with it would point at the wrong file.
 * @param {string} root
 * @param {Record<string, string[]>} allow
 * @returns {Map<string, Map<string, string>>} module -> (imported module -> one file that does it)
 */
function moduleGraph(root, allow) {
  /** @type {Map<string, Map<string, string>>} */
  const graph = new Map();
  for (const file of walk(root, [])) {
    const from = locate(root, file);
    if (!from) continue;
    for (const spec of relativeSpecifiers(file)) {
      const to = locate(root, path.resolve(path.dirname(file), spec));
      if (!to || to.module === from.module) continue;
      if (!(allow[from.module] ?? []).includes(to.module)) continue;
      let edges = graph.get(from.module);
      if (!edges) graph.set(from.module, (edges = new Map()));
      if (!edges.has(to.module)) edges.set(to.module, toPosix(path.relative(root, file)));
    }
  }
  return graph;
}

/**
 * Shortest module path start -> … -> goal, or null.
 * @param {Map<string, Map<string, string>>} graph
 * @param {string} start
 * @param {string} goal
 */
function findPath(graph, start, goal) {
  /** @type {Map<string, string | null>} */
  const prev = new Map([[start, null]]);
  const queue = [start];
  while (queue.length > 0) {
    const m = /** @type {string} */ (queue.shift());
    if (m === goal) {
      const route = [];
      for (let at = /** @type {string | null} */ (m); at !== null; at = prev.get(at) ?? null) route.unshift(at);
      return route;
    }
    for (const next of graph.get(m)?.keys() ?? []) {
      if (!prev.has(next)) {
        prev.set(next, m);
        queue.push(next);
      }
    }
  }
  return null;
}

// ---------------------------------------------------------------------------

/**
 * cwd-relative path of an import target, naming the .ts source when a NodeNext `.js`
 * specifier points at one.
 * @param {string} cwd
 * @param {string} resolved
 */
function displayPath(cwd, resolved) {
  const source = resolved.replace(/\.([cm]?)js$/, '.$1ts');
  return toPosix(path.relative(cwd, source !== resolved && existsSync(source) ? source : resolved));
}

/**
 * The string literal a module-reference node carries, if any.
 * @param {any} node
 * @returns {any} Literal node or null
 */
function literalSource(node) {
  if (!node) return null;
  if (node.type === 'Literal' && typeof node.value === 'string') return node;
  if (node.type === 'TemplateLiteral' && node.expressions.length === 0) {
    return { ...node, value: node.quasis[0].value.cooked };
  }
  return null;
}

/** @type {import('eslint').Rule.RuleModule} */
export const moduleBoundaries = {
  meta: {
    type: 'problem',
    docs: {
      description:
        'Enforce module facades (src/<module>/index.ts), the layer direction between modules, and acyclic module dependencies.',
    },
    schema: [
      {
        type: 'object',
        properties: {
          root: {
            type: 'string',
            description: 'Source root whose sub-folders are modules; relative to the ESLint cwd or absolute. Default "src".',
          },
          allow: {
            type: 'object',
            description: 'Layer table: module -> modules it may import (through their facade).',
            additionalProperties: { type: 'array', items: { type: 'string' }, uniqueItems: true },
          },
          checkCycles: { type: 'boolean', description: 'Report module-level cycles. Default true.' },
        },
        required: ['allow'],
        additionalProperties: false,
      },
    ],
    messages: {
      deepImport:
        "Module '{{from}}' imports '{{specifier}}', an internal file of module '{{to}}' ({{target}}). " +
        "Other modules are used only through their facade: import '{{facade}}' (export what you need from src/{{to}}/index.ts).",
      layer:
        "Module '{{from}}' must not import module '{{to}}' (layer direction). '{{from}}' may import: {{allowed}}.",
      cycle:
        "Module '{{from}}' importing module '{{to}}' creates a module cycle: {{route}} (back edge in {{via}}).",
      unknownModule:
        "Module '{{module}}' (src/{{module}}/) is not in the assay/module-boundaries layer table in eslint.config.js; decide its layer and add it there.",
    },
  },

  create(context) {
    const options = context.options[0] ?? {};
    /** @type {Record<string, string[]>} */
    const allow = options.allow ?? {};
    const root = path.resolve(context.cwd, options.root ?? 'src');
    const checkCycles = options.checkCycles ?? true;
    const filename = context.physicalFilename ?? context.filename;

    const self = locate(root, filename);
    if (!self) return {};
    const from = self.module;
    const fromKnown = Object.hasOwn(allow, from);

    /** @type {Map<string, Map<string, string>> | undefined} */
    let graph;
    /** @type {Set<string>} */
    const reportedUnknown = new Set();

    /** @param {any} node */
    function check(node) {
      const source = literalSource(node);
      if (!source || !source.value.startsWith('.')) return;
      const specifier = source.value;
      const resolved = path.resolve(path.dirname(filename), specifier);
      const target = locate(root, resolved);
      if (!target || target.module === from) return;
      const to = target.module;

      if (!FACADE_FILES.has(target.rest)) {
        let facade = toPosix(path.relative(path.dirname(filename), path.join(root, to, 'index.js')));
        if (!facade.startsWith('.')) facade = `./${facade}`;
        context.report({
          node: source,
          messageId: 'deepImport',
          data: { from, to, specifier, target: displayPath(context.cwd, resolved), facade },
        });
      }

      if (!fromKnown) return; // reported once at Program
      if (!Object.hasOwn(allow, to)) {
        if (!reportedUnknown.has(to)) {
          reportedUnknown.add(to);
          context.report({ node: source, messageId: 'unknownModule', data: { module: to } });
        }
        return;
      }
      const allowed = allow[from] ?? [];
      if (!allowed.includes(to)) {
        context.report({
          node: source,
          messageId: 'layer',
          data: { from, to, allowed: allowed.length > 0 ? allowed.join(', ') : '(no other module)' },
        });
        return;
      }

      if (checkCycles) {
        graph ??= moduleGraph(root, allow);
        const route = findPath(graph, to, from);
        if (route) {
          const last = route[route.length - 2] ?? to;
          context.report({
            node: source,
            messageId: 'cycle',
            data: {
              from,
              to,
              route: [from, ...route].join(' → '),
              via: graph.get(last)?.get(from) ?? `src/${last}`,
            },
          });
        }
      }
    }

    return {
      Program(node) {
        if (!fromKnown) {
          context.report({ node, loc: { line: 1, column: 0 }, messageId: 'unknownModule', data: { module: from } });
        }
      },
      ImportDeclaration: (node) => check(node.source),
      ExportNamedDeclaration: (node) => check(node.source),
      ExportAllDeclaration: (node) => check(node.source),
      ImportExpression: (node) => check(node.source),
      /** @param {any} node */
      TSImportEqualsDeclaration(node) {
        if (node.moduleReference?.type === 'TSExternalModuleReference') check(node.moduleReference.expression);
      },
      /** @param {any} node `import('../x/y.js').T` in a type position */
      TSImportType(node) {
        check(node.argument?.type === 'TSLiteralType' ? node.argument.literal : node.argument);
      },
      CallExpression(node) {
        if (node.callee.type === 'Identifier' && node.callee.name === 'require' && node.arguments.length === 1) {
          check(node.arguments[0]);
        }
      },
    };
  },
};

/** @type {import('eslint').ESLint.Plugin} */
const plugin = {
  meta: { name: 'assay', version: '0.1.0' },
  rules: { 'module-boundaries': moduleBoundaries },
};

export default plugin;
