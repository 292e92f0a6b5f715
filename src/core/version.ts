import { readFileSync } from 'node:fs';

/** This build's version, from package.json (two levels up from both src/core and dist/core). */
export const ASSAY_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
