import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, resolveConfigPath } from '../../src/config/load.js';
import { ConfigError } from '../../src/core/errors.js';
import { renderDefaults, renderSchema } from '../../src/config/render.js';

const dir = mkdtempSync(path.join(tmpdir(), 'sg-config-'));
const nowhere = path.join(dir, 'no-such-etc.json');

function file(name: string, content: unknown): string {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content));
  return p;
}

async function errorsOf(p: Promise<unknown>): Promise<{ path?: string; message: string }[]> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return [...(err as ConfigError).details];
}

describe('config resolution', () => {
  it('prefers --config, then $STOREGATE_CONFIG, then /etc, then the built-in defaults', () => {
    const etc = file('etc.json', {});
    expect(resolveConfigPath({ configPath: 'a.json', env: { STOREGATE_CONFIG: 'b.json' }, systemConfigPath: etc })).toBe(path.resolve('a.json'));
    expect(resolveConfigPath({ env: { STOREGATE_CONFIG: 'b.json' }, systemConfigPath: etc })).toBe(path.resolve('b.json'));
    expect(resolveConfigPath({ env: {}, systemConfigPath: etc })).toBe(etc);
    expect(resolveConfigPath({ env: {}, systemConfigPath: nowhere })).toBeNull();
  });

  it('runs on the built-in defaults alone: offline on 127.0.0.1:8080 with ./var and the sample data', async () => {
    const { config, source } = await loadConfig({ env: {}, systemConfigPath: nowhere });
    expect(source).toBe('built-in defaults');
    expect(config.mode).toBe('offline');
    expect(config.http).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(path.basename(config.dataDir)).toBe('var');
    expect(config.dataFiles.rules).toMatch(/config\/sample-rules\.json$/);
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('fills defaults under a partial file and resolves relative paths against the file', async () => {
    const p = file('partial.json', { store: { integrationId: 'store-042' }, dataDir: 'data' });
    const { config } = await loadConfig({ configPath: p, env: {} });
    expect(config.store.integrationId).toBe('store-042');
    expect(config.upstream.timeoutMs).toBe(800);
    expect(config.dataDir).toBe(path.join(dir, 'data'));
  });

  it('applies every documented env override', async () => {
    const p = file('env.json', {});
    const { config, apiKey } = await loadConfig({
      configPath: p,
      env: {
        STOREGATE_DATA_DIR: '/tmp/sg',
        STOREGATE_HTTP_HOST: '0.0.0.0',
        STOREGATE_HTTP_PORT: '9999',
        STOREGATE_MODE: 'connected',
        STOREGATE_UPSTREAM_URL: 'http://127.0.0.1:1',
        STOREGATE_UPSTREAM_API_KEY: 'k-123',
        STOREGATE_MQTT_URL: 'mqtt://127.0.0.1:1883',
        STOREGATE_LOG_LEVEL: 'debug',
        STOREGATE_ADMIN_TOKEN: 'admin-token-0123456789',
      },
    });
    expect(config).toMatchObject({
      dataDir: '/tmp/sg',
      http: { host: '0.0.0.0', port: 9999 },
      mode: 'connected',
      upstream: { baseUrl: 'http://127.0.0.1:1' },
      mqtt: { url: 'mqtt://127.0.0.1:1883' },
      log: { level: 'debug' },
      adminToken: 'admin-token-0123456789',
    });
    expect(apiKey).toBe('k-123');
  });
});

describe('config errors carry the JSON path of each problem', () => {
  it('unknown keys, wrong types and bad enums, all at once', async () => {
    const p = file('bad.json', { mode: 'sometimes', http: { port: 'eighty', colour: 'red' }, extra: 1 });
    const errs = await errorsOf(loadConfig({ configPath: p, env: {} }));
    const paths = errs.map((e) => e.path);
    expect(paths).toContain('/mode');
    expect(paths).toContain('/http/port');
    expect(paths).toContain('/http/colour');
    expect(paths).toContain('/extra');
  });

  it('malformed JSON', async () => {
    const p = file('malformed.json', '{"mode": ');
    const err = await loadConfig({ configPath: p, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/not valid JSON/);
  });

  it('a missing file names the file and where it came from', async () => {
    const err = await loadConfig({ configPath: path.join(dir, 'missing.json'), env: {} }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`config file ${path.join(dir, 'missing.json')} (from --config) does not exist: check the path, or run without --config for the built-in defaults`);
    const viaEnv = await loadConfig({ env: { STOREGATE_CONFIG: path.join(dir, 'gone.json') } }).catch((e: unknown) => e);
    expect((viaEnv as Error).message).toContain('(from $STOREGATE_CONFIG)');
  });

  it('a JSON syntax error names its line and column', async () => {
    const f = path.join(dir, 'syntax.json');
    writeFileSync(f, '{\n  "mode": "offline",\n  "http": { "port": 8080, },\n}\n');
    const err = await loadConfig({ configPath: f, env: {} }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(`config file ${f} is not valid JSON at line 3, column 27 (a missing or extra comma, quote or bracket)`);
  });

  it('says the rule a value breaks, and which environment variable set it', async () => {
    const errs = await errorsOf(loadConfig({ configPath: file('rules.json', { adminToken: 'short', log: { level: 'loud' } }), env: { STOREGATE_MODE: 'sometimes' } }));
    expect(errs).toEqual(
      expect.arrayContaining([
        { path: '/mode', message: 'must be one of "connected", "hybrid", "offline", not "sometimes" (from environment variable STOREGATE_MODE)' },
        { path: '/adminToken', message: 'must be a string of at least 16 characters or null, not the value given' },
        { path: '/log/level', message: expect.stringMatching(/^must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent", not "loud"$/) },
      ]),
    );
    expect(JSON.stringify(errs)).not.toContain('short'); // a token's value is never echoed
    const port = await errorsOf(loadConfig({ configPath: file('port.json', { http: { port: 70000 } }), env: {} }));
    expect(port).toEqual([{ path: '/http/port', message: 'must be an integer from 0 to 65535, not 70000' }]);
  });

  it('a config that is not an object', async () => {
    const errs = await errorsOf(loadConfig({ configPath: file('array.json', [1]), env: {} }));
    expect(errs[0]?.path).toBe('/');
  });

  it('a non-numeric port from the environment', async () => {
    const errs = await errorsOf(loadConfig({ configPath: file('e.json', {}), env: { STOREGATE_HTTP_PORT: '80a' } }));
    expect(errs).toEqual([{ path: '/http/port', message: 'must be an integer, not "80a" (from environment variable STOREGATE_HTTP_PORT)' }]);
  });

  it('connected mode without an upstream', async () => {
    const errs = await errorsOf(loadConfig({ configPath: file('c.json', { mode: 'connected' }), env: {} }));
    expect(errs.map((e) => e.path).sort()).toEqual(['/upstream/apiKey', '/upstream/baseUrl']);
  });

  it('a malformed terminal hash, duplicate terminals and a scanner bound to an unknown terminal', async () => {
    const good = 'a'.repeat(64);
    const p = file('t.json', {
      terminals: [
        { id: 'T1', tokenSha256: good },
        { id: 'T1', tokenSha256: good },
        { id: 'T2', tokenSha256: 'xyz' },
      ],
    });
    const errs = await errorsOf(loadConfig({ configPath: p, env: {} }));
    expect(errs.map((e) => e.path)).toContain('/terminals/2/tokenSha256');
    const p2 = file('t2.json', {
      terminals: [
        { id: 'T1', tokenSha256: good },
        { id: 'T1', tokenSha256: good },
      ],
      serial: [{ id: 's1', path: '/dev/null', role: 'terminal', terminalId: 'T9' }],
    });
    const errs2 = await errorsOf(loadConfig({ configPath: p2, env: {} }));
    expect(errs2.map((e) => e.path).sort()).toEqual(['/serial/0/terminalId', '/terminals/1/id']);
  });

  it('reads the API key from apiKeyFile, warns when it is world-readable, and refuses both forms at once', async () => {
    const keyFile = file('key.txt', 'secret-key\n');
    chmodSync(keyFile, 0o644);
    const p = file('k.json', { mode: 'connected', upstream: { baseUrl: 'http://127.0.0.1:1', apiKeyFile: 'key.txt' } });
    const loaded = await loadConfig({ configPath: p, env: {} });
    expect(loaded.apiKey).toBe('secret-key');
    expect(loaded.warnings.join()).toMatch(/world-readable/);
    chmodSync(keyFile, 0o600);
    expect((await loadConfig({ configPath: p, env: {} })).warnings).toEqual([]);
    const both = file('k2.json', { upstream: { apiKey: 'x', apiKeyFile: 'key.txt' } });
    const errs = await errorsOf(loadConfig({ configPath: both, env: {} }));
    expect(errs[0]?.path).toBe('/upstream/apiKeyFile');
    const missing = file('k3.json', { upstream: { apiKeyFile: 'nope.txt' } });
    expect((await errorsOf(loadConfig({ configPath: missing, env: {} })))[0]?.message).toMatch(/ENOENT/);
  });

  it('never puts the API key in an error message', async () => {
    const p = file('s.json', { upstream: { apiKey: 'super-secret-value', timeoutMs: 'slow' } });
    const err = (await loadConfig({ configPath: p, env: {} }).catch((e: unknown) => e)) as Error;
    expect(err.message).not.toContain('super-secret-value');
  });
});

describe('generated files', () => {
  it('config/schema.json and config/default.json are up to date with src/config/schema.ts (run npm run gen:schema)', () => {
    const root = path.resolve(import.meta.dirname, '..', '..');
    expect(readFileSync(path.join(root, 'config', 'schema.json'), 'utf8')).toBe(renderSchema());
    expect(readFileSync(path.join(root, 'config', 'default.json'), 'utf8')).toBe(renderDefaults());
  });
});

describe('config shapes TypeBox cannot fill in', () => {
  it('an object where an array belongs (with a "length" key) is a config error naming the field, not a crash', async () => {
    const { validateConfig } = await import('../../src/config/load.js');
    const err = await validateConfig({ store: { integrationId: 's' }, terminals: { length: '\u0000' } }, { source: 'push', baseDir: '/tmp' }).then(
      () => null,
      (e: unknown) => e as { code?: string; details?: { path: string }[] },
    );
    expect(err?.code).toBe('SG_ERR_CONFIG_INVALID');
    expect(err?.details?.map((d) => d.path)).toContain('/terminals');
  });
});
