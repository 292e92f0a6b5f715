// Types for the local ESLint plugin (plain JS so ESLint loads it without a build step);
// lets test/lint/module-boundaries.test.ts import it under `strict`.
import type { ESLint, Rule } from 'eslint';

export declare const moduleBoundaries: Rule.RuleModule;
declare const plugin: ESLint.Plugin;
export default plugin;
