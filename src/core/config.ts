import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalid, type FieldIssue } from './errors.js';

/**
 * Configuration: raw (file, environment, flags) → defaults → compiled, validated once.
 * Precedence, lowest first: defaults, `$ASSAY_HOME/config.json` (or `ASSAY_CONFIG`),
 * environment, explicit overrides (CLI flags). Unknown keys — in the file or as `ASSAY_*`
 * environment variables — fail at start, naming the key, so a typo never silently
 * falls back to a default.
 */

const logLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

const fsBlobStore = z.strictObject({
  kind: z.literal('fs'),
  /** @default `$ASSAY_HOME/blobs` */
  root: z.string().min(1).optional(),
});

const s3BlobStore = z.strictObject({
  kind: z.literal('s3'),
  bucket: z.string().min(1),
  region: z.string().min(1).default('us-east-1'),
  endpoint: z.url().optional(),
  prefix: z.string().default(''),
  forcePathStyle: z.boolean().default(true),
  accessKeyId: z.string().min(1).optional(),
  secretAccessKey: z.string().min(1).optional(),
});

/** The shape of `config.json` and of the merged raw configuration. */
const rawConfigSchema = z.strictObject({
  /** Where the embedded database, blobs, keys and tokens live. @default `./.assay` */
  home: z.string().min(1).optional(),
  /** PostgreSQL URL; when absent the embedded PGlite database in `$ASSAY_HOME/db` is used. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  /** @default 127.0.0.1 */
  host: z.string().min(1).default('127.0.0.1'),
  /** 0 picks a free port. @default 7600 */
  port: z.coerce.number().int().min(0).max(65535).default(7600),
  /** @default info */
  logLevel: logLevel.default('info'),
  /** Largest accepted JSON request body in bytes. @default 1 MiB */
  maxJsonBodyBytes: z.coerce.number().int().positive().default(1024 * 1024),
  /** @default { kind: 'fs' } */
  blobStore: z.discriminatedUnion('kind', [fsBlobStore, s3BlobStore]).default({ kind: 'fs' }),
});

type RawConfig = z.input<typeof rawConfigSchema>;

/** Blob store settings with every default applied. */
export type BlobStoreConfig = { kind: 'fs'; root: string } | (z.output<typeof s3BlobStore> & { spoolDir: string });

/** Compiled configuration: every default applied, every path absolute. */
export interface AssayConfig {
  home: string;
  databaseUrl: string | undefined;
  host: string;
  port: number;
  logLevel: z.output<typeof logLevel>;
  maxJsonBodyBytes: number;
  blobStore: BlobStoreConfig;
  /** Paths derived from `home`. */
  paths: {
    db: string;
    blobs: string;
    keys: string;
    adminToken: string;
    serverInfo: string;
    lock: string;
    tmp: string;
  };
  /** Where each explicitly set value came from, for error messages and `assay config`. */
  configFile: string | undefined;
}

/** Environment variables Assay reads, mapped to the raw config key each sets. */
const ENV_KEYS: Record<string, (raw: RawConfig, value: string) => void> = {
  ASSAY_HOME: (raw, v) => (raw.home = v),
  ASSAY_CONFIG: () => undefined, // consumed before parsing: path of the config file
  DATABASE_URL: (raw, v) => (raw.databaseUrl = v),
  ASSAY_HOST: (raw, v) => (raw.host = v),
  ASSAY_PORT: (raw, v) => (raw.port = v as unknown as number),
  ASSAY_LOG_LEVEL: (raw, v) => (raw.logLevel = v as RawConfig['logLevel']),
  ASSAY_MAX_JSON_BODY_BYTES: (raw, v) => (raw.maxJsonBodyBytes = v as unknown as number),
  ASSAY_BLOB_STORE: (raw, v) => (raw.blobStore = { ...(raw.blobStore ?? {}), kind: v } as RawConfig['blobStore']),
  ASSAY_S3_BUCKET: (raw, v) => s3(raw).bucket = v,
  ASSAY_S3_REGION: (raw, v) => s3(raw).region = v,
  ASSAY_S3_ENDPOINT: (raw, v) => s3(raw).endpoint = v,
  ASSAY_S3_PREFIX: (raw, v) => s3(raw).prefix = v,
  // Client-side settings read by other components, accepted here so they are not "unknown".
  ASSAY_URL: () => undefined,
  ASSAY_TOKEN: () => undefined,
  ASSAY_TEST_DATABASE_URL: () => undefined,
};

function s3(raw: RawConfig): Record<string, unknown> {
  const current = (raw.blobStore ?? { kind: 's3' }) as Record<string, unknown>;
  raw.blobStore = current as RawConfig['blobStore'];
  return current;
}

/** Options for `loadConfig`; everything is injectable so tests never touch the real environment. */
export interface LoadConfigOptions {
  /** @default process.env */
  env?: Record<string, string | undefined>;
  /** Values from CLI flags; they win over everything else. */
  overrides?: Partial<Pick<RawConfig, 'home' | 'host' | 'port' | 'logLevel' | 'databaseUrl'>>;
  /** Base for relative paths. @default process.cwd() */
  cwd?: string;
}

/** Reads, merges and validates configuration; throws `ConfigInvalid` naming every bad or unknown key. */
export function loadConfig(options: LoadConfigOptions = {}): AssayConfig {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const issues: FieldIssue[] = [];

  const unknownEnv = Object.keys(env).filter(
    (k) => k.startsWith('ASSAY_') && env[k] !== undefined && !(k in ENV_KEYS),
  );
  for (const key of unknownEnv) issues.push({ field: key, message: 'unknown environment variable' });

  const homeHint = options.overrides?.home ?? env.ASSAY_HOME ?? '.assay';
  const home = resolvePath(cwd, homeHint);
  const explicitFile = env.ASSAY_CONFIG;
  const configFile = explicitFile ? resolvePath(cwd, explicitFile) : join(home, 'config.json');

  let raw: RawConfig = {};
  if (existsSync(configFile)) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(configFile, 'utf8'));
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
        issues.push({ field: configFile, message: 'must contain a JSON object' });
      } else {
        raw = parsed as RawConfig;
      }
    } catch (err) {
      issues.push({ field: configFile, message: `not valid JSON: ${(err as Error).message}` });
    }
  } else if (explicitFile) {
    issues.push({ field: 'ASSAY_CONFIG', message: `file ${configFile} does not exist` });
  }
  const fromFile = new Set(Object.keys(raw));

  for (const [key, apply] of Object.entries(ENV_KEYS)) {
    const value = env[key];
    if (value !== undefined && value !== '') apply(raw, value);
  }
  for (const [key, value] of Object.entries(options.overrides ?? {})) {
    if (value !== undefined) (raw as Record<string, unknown>)[key] = value;
  }

  const result = rawConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const path = issue.path.map(String).join('.');
      const keys = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => (path ? `${path}.${k}` : k)) : [path];
      for (const field of keys) {
        const envName = envNameFor(field);
        const origin = fromFile.has(field.split('.')[0] ?? '') ? configFile : envName;
        issues.push({ field: field || '(root)', message: `${issue.message}${origin ? ` (from ${origin})` : ''}` });
      }
    }
  }
  if (issues.length > 0) throw new ConfigInvalid(issues, existsSync(configFile) ? configFile : 'environment');
  if (!result.success) throw new ConfigInvalid([{ field: '(root)', message: 'invalid' }], 'environment');

  const c = result.data;
  const finalHome = resolvePath(cwd, c.home ?? homeHint);
  const paths = {
    db: join(finalHome, 'db'),
    blobs: join(finalHome, 'blobs'),
    keys: join(finalHome, 'keys'),
    adminToken: join(finalHome, 'admin.token'),
    serverInfo: join(finalHome, 'server.json'),
    lock: join(finalHome, 'db.lock'),
    tmp: join(finalHome, 'tmp'),
  };
  const blobStore: BlobStoreConfig =
    c.blobStore.kind === 'fs'
      ? { kind: 'fs', root: c.blobStore.root ? resolvePath(cwd, c.blobStore.root) : paths.blobs }
      : { ...c.blobStore, spoolDir: paths.tmp };
  return {
    home: finalHome,
    databaseUrl: c.databaseUrl,
    host: c.host,
    port: c.port,
    logLevel: c.logLevel,
    maxJsonBodyBytes: c.maxJsonBodyBytes,
    blobStore,
    paths,
    configFile: existsSync(configFile) ? configFile : undefined,
  };
}

function envNameFor(field: string): string | undefined {
  const map: Record<string, string> = {
    home: 'ASSAY_HOME',
    databaseUrl: 'DATABASE_URL',
    host: 'ASSAY_HOST',
    port: 'ASSAY_PORT',
    logLevel: 'ASSAY_LOG_LEVEL',
    maxJsonBodyBytes: 'ASSAY_MAX_JSON_BODY_BYTES',
    'blobStore.kind': 'ASSAY_BLOB_STORE',
    'blobStore.bucket': 'ASSAY_S3_BUCKET',
    'blobStore.region': 'ASSAY_S3_REGION',
    'blobStore.endpoint': 'ASSAY_S3_ENDPOINT',
    'blobStore.prefix': 'ASSAY_S3_PREFIX',
  };
  return map[field];
}

function resolvePath(cwd: string, p: string): string {
  return isAbsolute(p) ? p : resolve(cwd, p);
}
