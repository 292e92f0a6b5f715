import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { ConfigInvalid, type FieldIssue } from './errors.js';
import { wholeNumberSetting } from './whole-number.js';

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

/**
 * A calendar duration, written in ISO 8601 (`P12M`, `P10Y`, `P90D`, `P1Y6M`): whole months (a
 * year counts 12) and days (a week 7), added on the UTC calendar.
 */
export interface CalendarDuration {
  iso: string;
  months: number;
  days: number;
}

const ISO_DURATION = /^P(?=\d)(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?$/;

const calendarDuration = z
  .string()
  .regex(ISO_DURATION, 'must be an ISO 8601 duration in years, months, weeks or days, e.g. P12M, P10Y, P90D')
  .transform((iso): CalendarDuration => {
    const [, y, m, w, d] = ISO_DURATION.exec(iso) ?? [];
    return { iso, months: Number(y ?? 0) * 12 + Number(m ?? 0), days: Number(w ?? 0) * 7 + Number(d ?? 0) };
  });

/**
 * True when `a` is at least `b` from every start date. Months last 28 to 31 days, so `P30D` is
 * not at least `P1M` (January), while `P1Y` is at least `P12M` and `P60D` at least `P1M`.
 */
export function durationAtLeast(a: CalendarDuration, b: CalendarDuration): boolean {
  return (a.months >= b.months && a.days >= b.days) || a.months * 28 + a.days >= b.months * 31 + b.days;
}

/** One payload class's retention: kept at least `minimum`, immediately available for `hot`, purged after `maximum`. */
export interface RetentionClassConfig {
  minimum: CalendarDuration;
  hot: CalendarDuration;
  maximum: CalendarDuration;
}

/** Retention per payload class name. */
export type RetentionConfig = Record<string, RetentionClassConfig>;

/** Payload class names: lower-case words joined by underscores, e.g. `lifecycle_evidence`. */
export const PAYLOAD_CLASS_PATTERN = /^[a-z][a-z0-9_]{0,62}$/;

const retentionClass = z
  .strictObject({
    /** Kept at least this long; erasing earlier needs an explicit override (GDPR Art. 17(3)(b)). */
    minimum: calendarDuration,
    /** Immediately available this long (PCI DSS 10.5.1: the last 3 months). @default the minimum */
    hot: calendarDuration.optional(),
    /** Purged once this has passed (GDPR Art. 5(1)(e), storage limitation). */
    maximum: calendarDuration,
  })
  .transform((c): RetentionClassConfig => ({ minimum: c.minimum, hot: c.hot ?? c.minimum, maximum: c.maximum }))
  .superRefine((c, ctx) => {
    if (!durationAtLeast(c.maximum, c.minimum)) {
      ctx.addIssue({ code: 'custom', path: ['maximum'], message: `must not be shorter than the minimum (${c.minimum.iso}) on any date` });
    }
    if (!durationAtLeast(c.minimum, c.hot)) {
      ctx.addIssue({ code: 'custom', path: ['hot'], message: `must not be longer than the minimum (${c.minimum.iso}) on any date` });
    }
  });

const duration = (iso: string): CalendarDuration => calendarDuration.parse(iso);

/**
 * Retention of the built-in payload classes: inference payloads 12 months, the last 3 hot
 * (PCI DSS 10.5.1); lifecycle evidence 10 years (EU AI Act Art. 18). Each has a maximum as well
 * as a minimum (GDPR Art. 5(1)(e)). `audit.retention` in the config file overrides a class
 * or adds new ones.
 */
export const DEFAULT_RETENTION: RetentionConfig = {
  inference: { minimum: duration('P12M'), hot: duration('P3M'), maximum: duration('P12M') },
  lifecycle_evidence: { minimum: duration('P10Y'), hot: duration('P10Y'), maximum: duration('P10Y') },
};

const breakGlassSettings = z.strictObject({
  /** Longest elevation a break-glass principal may ask for, in minutes (at most a day). @default 60 */
  maxMinutes: wholeNumberSetting(1, 24 * 60).default(60),
});

const autonomySettings = z.strictObject({
  /**
   * How long an approval request opened by bounded autonomy stays answerable, and then usable
   * by its requester once approved, in minutes (at most 30 days). A request may ask for less.
   * @default 1440 (one day)
   */
  approvalExpiryMinutes: wholeNumberSetting(1, 30 * 24 * 60).default(24 * 60),
});

const lineageSettings = z.strictObject({
  /**
   * Where Assay sends OpenLineage events about its own jobs: a consumer's lineage endpoint, e.g.
   * Marquez's `http://marquez:5000/api/v1/lineage`. Unset: Assay emits nothing.
   */
  emitUrl: z
    .url()
    .refine((u) => ['http:', 'https:'].includes(new URL(u).protocol), 'must be an http:// or https:// URL')
    .optional(),
  /** Sent as `Authorization: Bearer …` when the consumer asks for a key. */
  emitApiKey: z.string().min(1).optional(),
  /** Time allowed for one attempt, in milliseconds. @default 5000 */
  emitTimeoutMs: wholeNumberSetting(100, 60_000).default(5000),
  /** Attempts after the first, for network errors, 429 and 5xx. @default 3 */
  emitMaxRetries: wholeNumberSetting(0, 10).default(3),
  /** OpenLineage namespace of Assay's own jobs and certified datasets. @default assay */
  namespace: z
    .string()
    .min(1)
    .max(200)
    // The lineage graph keeps a namespace in at most 500 bytes; promotion names each certified dataset in it.
    .refine((s) => Buffer.byteLength(s) <= 500, 'must be at most 500 bytes in UTF-8')
    .default('assay'),
});

/** The `lineage` section with defaults applied. */
export type LineageConfig = z.output<typeof lineageSettings>;

/**
 * The longest pause a schedule may take, in seconds: Node's timers hold at most 2^31 − 1 ms
 * (24 days 20 hours) and run a longer one after 1 ms, so a monthly sweep would run back to back.
 */
const LONGEST_INTERVAL_SECONDS = Math.floor((2 ** 31 - 1) / 1000);
/** The longest grace, in seconds (100 years): the cutoff it subtracts from now stays a date PostgreSQL reads. */
const LONGEST_GRACE_SECONDS = 100 * 365 * 24 * 60 * 60;

/** A size as DuckDB reads one: KB, MB… count in thousands, KiB, MiB… in 1024s. */
const DUCKDB_SIZE = /^(\d+(?:\.\d+)?)\s*(K|M|G|T)(i?)B$/i;
const SIZE_POWERS: Readonly<Record<string, number>> = { K: 1, M: 2, G: 3, T: 4 };

/** The bytes `size` (matching DUCKDB_SIZE) stands for. */
function duckdbSizeBytes(size: string): number {
  const [, amount = '0', unit = 'K', binary = ''] = DUCKDB_SIZE.exec(size) ?? [];
  return Number(amount) * (binary ? 1024 : 1000) ** (SIZE_POWERS[unit.toUpperCase()] ?? 1);
}

/**
 * The least memory DuckDB may be given for an ingest: with 36MB it ingests the 1,000-row German
 * credit demo on 2 threads, with 32MB every ingest fails as out of memory, so the floor leaves
 * nearly twice that (more threads need more).
 */
const DUCKDB_MEMORY_FLOOR = '64MB';

const dataSettings = z.strictObject({
  /** Largest dataset upload in bytes; larger ones are refused with 413 as soon as that is known. @default 64 GiB */
  maxUploadBytes: wholeNumberSetting(1).default(64 * 1024 ** 3),
  /**
   * How long a dataset upload may send nothing before it is refused and its partial spool removed,
   * and a certified Parquet download may move no byte before it is ended: a stalled client (a
   * half-open connection, a file on a hung mount, a reader that stopped) would otherwise hold its
   * files, and a stopping server, forever. @default 300
   */
  transferIdleTimeoutSeconds: wholeNumberSetting(1, LONGEST_INTERVAL_SECONDS).default(300),
  /** DuckDB's memory limit per ingest (`512MB`, `4GB`…); above it DuckDB spills to `$ASSAY_HOME/tmp`. @default 2GB */
  duckdbMemoryLimit: z
    .string()
    .regex(DUCKDB_SIZE, 'must be a size such as 512MB or 4GB')
    // A value that is no size was refused above, once.
    .refine((size) => !DUCKDB_SIZE.test(size) || duckdbSizeBytes(size) >= duckdbSizeBytes(DUCKDB_MEMORY_FLOOR), `must be at least ${DUCKDB_MEMORY_FLOOR}: with less, DuckDB runs out of memory ingesting even a small file`)
    .default('2GB'),
  /** Whether an erasure request (GDPR Art. 17) flags the model versions trained on the subject's data `retrain_required`; they are recorded either way. @default true */
  erasureFlagsModels: z.boolean().default(true),
  /**
   * With PostgreSQL, how old a dataset blob's pending record must be before the sweep treats its
   * request as dead and removes the blob it left (an embedded server, holding the home lock,
   * removes every earlier one at start). @default 86400
   */
  pendingBlobGraceSeconds: wholeNumberSetting(0, LONGEST_GRACE_SECONDS).default(24 * 60 * 60),
  /** How often the server sweeps blobs dead requests left; 0 sweeps at start only. @default 3600 */
  pendingBlobSweepIntervalSeconds: wholeNumberSetting(0, LONGEST_INTERVAL_SECONDS).default(3600),
});

const auditSettings = z.strictObject({
  /** Per payload class, `{minimum, hot?, maximum}`; merged over DEFAULT_RETENTION class by class. */
  retention: z
    .record(z.string(), retentionClass)
    .superRefine((classes, ctx) => {
      for (const name of Object.keys(classes)) {
        if (!PAYLOAD_CLASS_PATTERN.test(name)) ctx.addIssue({ code: 'custom', path: [name], message: 'class names are lower-case words joined by "_"' });
      }
    })
    .default({}),
  /** How often the server purges payloads past their maximum; 0 turns the schedule off. @default 3600 */
  purgeIntervalSeconds: wholeNumberSetting(0, LONGEST_INTERVAL_SECONDS).default(3600),
});

/** JWS algorithms an OIDC issuer may sign with: asymmetric only, so `none` and shared-secret HMAC can never verify. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

const oidcIssuer = z.strictObject({
  /** The exact `iss` value of the issuer's tokens. */
  issuer: z.url(),
  /** Short label naming the issuer's principals `<name>:<subject>`. @default the issuer URL's hostname */
  name: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'must be a lower-case label (a-z, 0-9, ".", "-")').optional(),
  /** Accepted `aud` value(s). */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Where the issuer publishes its signing keys; https, or http on a loopback host only. */
  jwksUri: z.url().refine((u) => {
    const url = new URL(u);
    return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname));
  }, 'must be an https:// URL (http:// only on a loopback host)'),
  /** Claim naming the principal at the issuer. @default sub */
  subjectClaim: z.string().min(1).default('sub'),
  /** Claim (dotted path, e.g. `realm_access.roles`) holding the IdP groups. @default groups */
  rolesClaim: z.string().min(1).default('groups'),
  /** IdP group → built-in role; unmapped groups grant nothing. Roles are checked against the built-in list at start. */
  roleMapping: z.record(z.string().min(1), z.string().min(1)).default({}),
  /** @default ['RS256', 'ES256'] */
  algorithms: z.array(z.enum(OIDC_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
  /** Tolerance on `exp` and `nbf`. @default 60 */
  clockSkewSeconds: z.number().int().min(0).max(300).default(60),
  /** How long fetched keys are trusted before the JWKS is fetched again. @default 600 */
  jwksCacheSeconds: z.number().int().min(0).max(86_400).default(600),
  /** After a fetch, how long an unknown `kid` waits before it may trigger another fetch (key rotation). @default 30 */
  jwksCooldownSeconds: z.number().int().min(0).max(3600).default(30),
});

const oidcSettings = z
  .strictObject({
    /** Trusted issuers; empty means bearer JWTs are refused. File only (there is no environment variable). */
    issuers: z.array(oidcIssuer).default([]),
  })
  .superRefine((o, ctx) => {
    const seen = new Map<string, number>();
    o.issuers.forEach((i, n) => {
      const label = i.name ?? new URL(i.issuer).hostname;
      for (const key of [`iss ${i.issuer}`, `name ${label}`]) {
        if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['issuers', n, key.startsWith('iss') ? 'issuer' : 'name'], message: `duplicates issuers.${seen.get(key)}` });
        else seen.set(key, n);
      }
    });
  });

/** The `oidc` section with defaults applied. */
export type OidcConfig = z.output<typeof oidcSettings>;

/** One trusted OIDC issuer with defaults applied. */
export type OidcIssuerConfig = OidcConfig['issuers'][number];

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
  port: wholeNumberSetting(0, 65535).default(7600),
  /** @default info */
  logLevel: logLevel.default('info'),
  /** Largest accepted JSON request body in bytes. @default 1 MiB */
  maxJsonBodyBytes: wholeNumberSetting(1).default(1024 * 1024),
  /** @default { kind: 'fs' } */
  blobStore: z.discriminatedUnion('kind', [fsBlobStore, s3BlobStore]).default({ kind: 'fs' }),
  /** Trusted OpenID Connect issuers for bearer JWTs. */
  oidc: oidcSettings.prefault({}),
  /** Audit payload retention and the purge schedule. */
  audit: auditSettings.prefault({}),
  /** Emergency elevation limits. */
  breakGlass: breakGlassSettings.prefault({}),
  /** Bounded autonomy: approval requests. */
  autonomy: autonomySettings.prefault({}),
  /** Governed data: upload limit and DuckDB's memory per ingest. */
  data: dataSettings.prefault({}),
  /** OpenLineage out: where Assay reports its own jobs. */
  lineage: lineageSettings.prefault({}),
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
  /** Trusted OpenID Connect issuers. */
  oidc: OidcConfig;
  /** Audit payload retention per class (defaults merged in) and the purge schedule. */
  audit: {
    retention: RetentionConfig;
    purgeIntervalSeconds: number;
  };
  /** Emergency elevation limits. */
  breakGlass: { maxMinutes: number };
  /** Bounded autonomy: how long approval requests live. */
  autonomy: { approvalExpiryMinutes: number };
  /** Governed data: upload limit and DuckDB's memory per ingest. */
  data: { maxUploadBytes: number; transferIdleTimeoutSeconds: number; duckdbMemoryLimit: string; erasureFlagsModels: boolean; pendingBlobGraceSeconds: number; pendingBlobSweepIntervalSeconds: number };
  /** OpenLineage out: the consumer Assay reports its own jobs to, if any. */
  lineage: LineageConfig;
  /** Paths derived from `home`. */
  paths: {
    db: string;
    blobs: string;
    /** Audit payloads on the filesystem: a blob store of their own, so erasing one never touches another blob. */
    auditPayloads: string;
    keys: string;
    adminToken: string;
    serverInfo: string;
    lock: string;
    tmp: string;
    /** Site Cedar policies (`*.cedar`), loaded beside the default pack. */
    policies: string;
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
        // The environment wins over the file: a value set in both was read from the environment.
        const fromEnv = envName !== undefined && (env[envName] ?? '') !== '';
        const origin = !fromEnv && fromFile.has(field.split('.')[0] ?? '') ? configFile : envName;
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
    auditPayloads: join(finalHome, 'audit-payloads'),
    keys: join(finalHome, 'keys'),
    adminToken: join(finalHome, 'admin.token'),
    serverInfo: join(finalHome, 'server.json'),
    lock: join(finalHome, 'db.lock'),
    tmp: join(finalHome, 'tmp'),
    policies: join(finalHome, 'policies'),
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
    oidc: c.oidc,
    audit: { retention: { ...DEFAULT_RETENTION, ...c.audit.retention }, purgeIntervalSeconds: c.audit.purgeIntervalSeconds },
    breakGlass: c.breakGlass,
    autonomy: c.autonomy,
    data: c.data,
    lineage: c.lineage,
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
