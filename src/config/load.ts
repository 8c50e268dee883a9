import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { isSea } from 'node:sea';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Value } from '@sinclair/typebox/value';
import { ConfigSchema, type Config } from './schema.js';
import { ConfigError, type ErrorDetail } from '../core/errors.js';
import { loadTrustedKeys } from '../trust/keys.js';
import { safeRegex } from '../engine/regex-guard.js';
import builtInDefaults from '../../config/default.json' with { type: 'json' };
import { explainSchemaError } from './explain.js';
import { jsonErrorOffset, lineColumn } from './json-error.js';
import { checkFallbackConfig } from './fallback.js';
import { checkTlsConfig, resolveTlsPaths } from '../tls/config-check.js';

/** The sample local data a checkout's built-in defaults answer from (files in its `config/` folder). */
export const SAMPLE_DATA_FILES = {
  rules: 'sample-rules.json',
  prices: 'sample-prices.json',
  coupons: 'sample-coupons.json',
  loyalty: 'sample-loyalty.json',
  catalog: 'sample-catalog.json',
} as const;

/**
 * The source checkout this code runs from: the folder holding `config/default.json` and the sample data, found by
 * walking up from this module (the same from `src/` under tsx and from `build/` in the bundle);
 * `STOREGATE_APP_DIR` overrides it. null when the code runs on its own: the single binary, or a bundle copied
 * away from its checkout. Only a checkout's built-in defaults use the sample data and `./var` (README "Quick
 * start"); code on its own never reads or writes beside itself or in the working directory.
 */
export const CHECKOUT_DIR: string | null = process.env.STOREGATE_APP_DIR || (runsAlone() ? null : findCheckout(path.dirname(fileURLToPath(import.meta.url))));

/** The checkout folder, for tools and tests that run from one (the loader itself uses CHECKOUT_DIR). */
export const APP_DIR: string = CHECKOUT_DIR ?? process.cwd();

/** Inside a single executable the bundle's own path is the binary's: nothing beside it is ours. */
function runsAlone(): boolean {
  try {
    return isSea();
  } catch {
    return false;
  }
}

function findCheckout(from: string): string | null {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'config', 'default.json')) && existsSync(path.join(dir, 'config', SAMPLE_DATA_FILES.rules))) return dir;
    if (path.dirname(dir) === dir) return null;
  }
}

/**
 * The data dir of the built-in defaults when storegate runs on its own: systemd's `StateDirectory=` (it sets
 * `$STATE_DIRECTORY`), else the folder the unit would use. `STOREGATE_DATA_DIR` still wins over both.
 */
export function standaloneDataDir(env: NodeJS.ProcessEnv): string {
  const fromSystemd = env.STATE_DIRECTORY?.split(':')[0];
  return fromSystemd && path.isAbsolute(fromSystemd) ? fromSystemd : '/var/lib/storegate';
}

export const SYSTEM_CONFIG_PATH = '/etc/storegate/config.json';

export interface LoadOptions {
  /** `--config FILE` from the command line. */
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** Overrides the `/etc/storegate/config.json` probe (tests). */
  systemConfigPath?: string;
}

export interface LoadedConfig {
  readonly config: Readonly<Config>;
  /** The file the config came from, or `built-in defaults`. */
  readonly source: string;
  /** Folder relative paths in the config resolve against. */
  readonly baseDir: string;
  /** The upstream API key, from `upstream.apiKey`, its env override or `upstream.apiKeyFile`. */
  readonly apiKey: string | null;
  /** Non-fatal findings (e.g. a world-readable key file), for the log and `doctor`. */
  readonly warnings: readonly string[];
  /** The config document as written (before defaults and env overrides): what a pushed partial config merges into. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** The environment the overrides came from (kept so a pushed config is validated the same way). */
  readonly env: NodeJS.ProcessEnv;
}

type EnvRule = { env: string; path: string[]; type: 'string' | 'integer' };

/** Environment variables that override single keys (README "Configuration", env column). */
export const ENV_OVERRIDES: readonly EnvRule[] = [
  { env: 'STOREGATE_DATA_DIR', path: ['dataDir'], type: 'string' },
  { env: 'STOREGATE_HTTP_HOST', path: ['http', 'host'], type: 'string' },
  { env: 'STOREGATE_HTTP_PORT', path: ['http', 'port'], type: 'integer' },
  { env: 'STOREGATE_MODE', path: ['mode'], type: 'string' },
  { env: 'STOREGATE_UPSTREAM_URL', path: ['upstream', 'baseUrl'], type: 'string' },
  { env: 'STOREGATE_UPSTREAM_API_KEY', path: ['upstream', 'apiKey'], type: 'string' },
  { env: 'STOREGATE_MQTT_URL', path: ['mqtt', 'url'], type: 'string' },
  { env: 'STOREGATE_LOG_LEVEL', path: ['log', 'level'], type: 'string' },
  { env: 'STOREGATE_ADMIN_TOKEN', path: ['adminToken'], type: 'string' },
];

/** Resolution order (README "Commands"): --config, $STOREGATE_CONFIG, /etc/storegate/config.json, built-in defaults. */
export function resolveConfigPath(opts: LoadOptions): string | null {
  const env = opts.env ?? process.env;
  if (opts.configPath) return path.resolve(opts.configPath);
  if (env.STOREGATE_CONFIG) return path.resolve(env.STOREGATE_CONFIG);
  const sys = opts.systemConfigPath ?? SYSTEM_CONFIG_PATH;
  return existsSync(sys) ? sys : null;
}

/** Reads, overrides, defaults and validates the config; throws `ConfigError` listing every problem with its path. */
export async function loadConfig(opts: LoadOptions = {}): Promise<LoadedConfig> {
  const env = opts.env ?? process.env;
  const file = resolveConfigPath(opts);
  let raw: unknown;
  let baseDir: string;
  if (file === null) {
    const defaults = structuredClone(builtInDefaults) as Record<string, unknown>;
    if (CHECKOUT_DIR !== null) {
      // A newcomer's `npm start`: the sample data and `./var`, both in the checkout.
      defaults.dataFiles = { ...SAMPLE_DATA_FILES };
      defaults.dataDir = path.join(CHECKOUT_DIR, 'var');
      baseDir = path.join(CHECKOUT_DIR, 'config');
    } else {
      defaults.dataDir = standaloneDataDir(env);
      // Only a relative path given on purpose (`STOREGATE_DATA_DIR=./data`) lands here.
      baseDir = process.cwd();
    }
    raw = defaults;
  } else {
    raw = await readJson(file, opts.configPath ? '--config' : env.STOREGATE_CONFIG ? '$STOREGATE_CONFIG' : 'the default location');
    baseDir = path.dirname(file);
  }
  return validateConfig(raw, { env, source: file ?? 'built-in defaults', baseDir });
}

/** Validation shared by file loading and (later) signed config pushes: defaults, env overrides, schema, cross-field rules. */
export async function validateConfig(
  raw: unknown,
  ctx: { env?: NodeJS.ProcessEnv; source: string; baseDir: string; rawFile?: Readonly<Record<string, unknown>> },
): Promise<LoadedConfig> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${ctx.source}: the config must be a JSON object`, [{ path: '/', message: 'expected an object' }]);
  }
  const doc = structuredClone(raw) as Record<string, unknown>;
  const details: ErrorDetail[] = [];
  const fromEnv = applyEnv(doc, ctx.env ?? {}, details);
  const envOf = (p: string): string | undefined => [...fromEnv].find(([key]) => p === key || p.startsWith(`${key}/`))?.[1];
  let withDefaults: Record<string, unknown>;
  try {
    withDefaults = Value.Default(ConfigSchema, doc) as Record<string, unknown>;
  } catch {
    // TypeBox's Default throws on some wrong shapes (an object with a `length` where an array belongs: "Invalid
    // array length"); the schema errors below name the field either way (found by the fuzz suite, via a push).
    withDefaults = doc;
  }
  // Check first: it stops at nothing and is cheaper than walking the error iterator, which a valid config never needs.
  if (!Value.Check(ConfigSchema, withDefaults)) for (const e of Value.Errors(ConfigSchema, withDefaults)) details.push(explainSchemaError(e, envOf));
  if (details.length > 0) throw invalid(ctx.source, details);

  const config = withDefaults as Config;
  const warnings: string[] = [];
  const apiKey = await resolveApiKey(config, ctx.baseDir, details, warnings);
  checkCrossField(config, apiKey, details);
  await checkFallbackConfig(config, ctx.baseDir, details);
  // HTTPS files are read and checked here, so a bad certificate stops the start with its path (src/tls/).
  resolveTlsPaths(config.http, ctx.baseDir);
  await checkTlsConfig(config, Date.now(), details, warnings);
  if (details.length > 0) throw invalid(ctx.source, details);

  // Relative paths are relative to the config file, not to wherever the daemon was started.
  config.dataDir = path.resolve(ctx.baseDir, config.dataDir);
  for (const k of ['rules', 'prices', 'coupons', 'loyalty', 'catalog', 'collections'] as const) {
    const f = config.dataFiles[k];
    if (f) config.dataFiles[k] = path.resolve(ctx.baseDir, f);
  }
  return {
    config: deepFreeze(config),
    source: ctx.source,
    baseDir: ctx.baseDir,
    apiKey,
    warnings,
    // A pushed overlay keeps the file's own document as `raw`: the next push merges into the file, not into the last merge.
    raw: ctx.rawFile ?? deepFreeze(structuredClone(raw) as Record<string, unknown>),
    env: ctx.env ?? {},
  };
}

async function readJson(file: string, origin: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
    const why =
      code === 'ENOENT'
        ? `config file ${file} (from ${origin}) does not exist: check the path, or run without --config for the built-in defaults`
        : code === 'EACCES'
          ? `config file ${file} (from ${origin}) cannot be read by this user (EACCES): run as the service's user, or with sudo`
          : `cannot read config file ${file} (from ${origin}): ${code}`;
    throw new ConfigError(why, [{ path: '/', message: why }], err);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const { line, column } = lineColumn(text, Math.max(0, jsonErrorOffset(text)));
    const why = `config file ${file} is not valid JSON at line ${line}, column ${column} (a missing or extra comma, quote or bracket)`;
    throw new ConfigError(why, [{ path: '/', message: `line ${line}, column ${column}: ${(err as Error).message.split('\n')[0]}` }]);
  }
}

/** Applies the environment overrides; returns which config paths they set (JSON pointer → variable name). */
function applyEnv(doc: Record<string, unknown>, env: NodeJS.ProcessEnv, details: ErrorDetail[]): Map<string, string> {
  const set = new Map<string, string>();
  for (const rule of ENV_OVERRIDES) {
    const v = env[rule.env];
    if (v === undefined || v === '') continue;
    let value: unknown = v;
    if (rule.type === 'integer') {
      if (!/^\d+$/.test(v)) {
        details.push({ path: `/${rule.path.join('/')}`, message: `must be an integer, not "${v}" (from environment variable ${rule.env})` });
        continue;
      }
      value = Number(v);
    }
    set.set(`/${rule.path.join('/')}`, rule.env);
    let node = doc;
    for (const key of rule.path.slice(0, -1)) {
      const next = node[key];
      if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[rule.path[rule.path.length - 1] as string] = value;
  }
  return set;
}

async function resolveApiKey(config: Config, baseDir: string, details: ErrorDetail[], warnings: string[]): Promise<string | null> {
  const file = config.upstream.apiKeyFile;
  if (config.upstream.apiKey && file) {
    details.push({ path: '/upstream/apiKeyFile', message: 'set either upstream.apiKey or upstream.apiKeyFile, not both' });
    return null;
  }
  if (!file) return config.upstream.apiKey;
  const full = path.resolve(baseDir, file);
  try {
    const st = await stat(full);
    if ((st.mode & 0o004) !== 0) warnings.push(`upstream.apiKeyFile ${full} is world-readable; chmod 600 it`);
    const key = (await readFile(full, 'utf8')).split(/\r?\n/, 1)[0]?.trim() ?? '';
    if (!key) details.push({ path: '/upstream/apiKeyFile', message: `${full} is empty` });
    return key || null;
  } catch (err) {
    details.push({ path: '/upstream/apiKeyFile', message: `cannot read ${full}: ${(err as NodeJS.ErrnoException).code ?? 'EIO'}` });
    return null;
  }
}

function checkCrossField(config: Config, apiKey: string | null, details: ErrorDetail[]): void {
  try {
    loadTrustedKeys(config.trust.publicKeys);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    details.push(...err.details);
  }
  if (config.mode !== 'offline') {
    if (!config.upstream.baseUrl) details.push({ path: '/upstream/baseUrl', message: `mode "${config.mode}" needs upstream.baseUrl` });
    if (!apiKey) details.push({ path: '/upstream/apiKey', message: `mode "${config.mode}" needs upstream.apiKey or upstream.apiKeyFile` });
  }
  const ids = new Set<string>();
  config.terminals.forEach((t, i) => {
    if (ids.has(t.id)) details.push({ path: `/terminals/${i}/id`, message: `duplicate terminal id "${t.id}"` });
    if (!t.tokenSha256 && !t.certSha256) details.push({ path: `/terminals/${i}`, message: 'needs tokenSha256 (a token) or certSha256 (a client certificate), or both' });
    ids.add(t.id);
  });
  const serialIds = new Set<string>();
  config.serial.forEach((s, i) => {
    if (serialIds.has(s.id)) details.push({ path: `/serial/${i}/id`, message: `duplicate serial id "${s.id}"` });
    serialIds.add(s.id);
    if (s.role === 'terminal' && !s.terminalId) details.push({ path: `/serial/${i}/terminalId`, message: 'role "terminal" needs terminalId' });
    if (s.terminalId && !ids.has(s.terminalId)) details.push({ path: `/serial/${i}/terminalId`, message: `unknown terminal "${s.terminalId}"` });
    for (const k of ['couponPattern', 'loyaltyCardPattern'] as const) {
      const p = s[k];
      if (p === null) continue;
      try {
        safeRegex(p); // the linear-time engine the scanners match with (src/engine/regex-guard.ts)
      } catch (err) {
        details.push({ path: `/serial/${i}/${k}`, message: (err as Error).message });
      }
    }
  });
}

function invalid(source: string, details: ErrorDetail[]): ConfigError {
  const lines = details.map((d) => `  ${d.path}: ${d.message}`).join('\n');
  return new ConfigError(`invalid config (${source}):\n${lines}`, details);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
