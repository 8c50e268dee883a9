/**
 * `storegate doctor [--config FILE] [--json]`: what a technician checks in a shop, one line per check, each `ok`,
 * `warn` or `fail` with a reason they can act on. Exit 0 when nothing failed, 1 otherwise (README "Commands").
 *
 * It reads the same config as `run`, never opens the journal (the running daemon is its only writer) and changes
 * nothing: a temp file in the data dir (created and removed), a read-only call to Talon.One, a broker connection
 * under a client id of its own, and each serial port opened and closed (a port the daemon holds is a warning).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, statfsSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { isStoregateError } from '../core/errors.js';
import { formatCount } from '../core/count.js';
import { checkUpstream } from '../upstream/check.js';
import { probeBroker } from '../mqtt/client-once.js';
import { checkSerialPort } from '../serial/doctor.js';
import { daemonRequest, daemonTarget, type DaemonTarget } from './daemon-client.js';
import { checkTlsFiles } from '../tls/doctor.js';
import { serviceUserGroups } from './users.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: string;
  status: CheckStatus;
  reason: string;
}

const MiB = 1024 * 1024;
/** Clock skew past which the clockSkew alert fires (src/alerts/watch.ts), and past which promotions go wrong. */
const SKEW_WARN_MS = 2_000;
const SKEW_FAIL_MS = 60_000;

export async function doctorCommand(opts: { configPath: string | undefined; json: boolean; timeoutMs?: number }): Promise<number> {
  const checks = await runChecks(opts.configPath, opts.timeoutMs ?? 5_000);
  const ok = checks.every((c) => c.status !== 'fail');
  if (opts.json) console.log(JSON.stringify({ ok, checks }, null, 2));
  else for (const c of checks) console.log(`${c.status.padEnd(4)} ${c.name}: ${c.reason}`);
  return ok ? 0 : 1;
}

export async function runChecks(configPath: string | undefined, timeoutMs: number): Promise<Check[]> {
  const checks: Check[] = [];
  let loaded: LoadedConfig;
  try {
    loaded = await loadConfig({ configPath });
  } catch (err) {
    const details = isStoregateError(err) && err.details.length > 0 ? `: ${err.details.map((d) => `${d.path ?? '/'} ${d.message}`).join('; ')}` : '';
    checks.push({ name: 'config', status: 'fail', reason: `${(err as Error).message}${details}` });
    return checks;
  }
  const { config } = loaded;
  checks.push({ name: 'config', status: 'ok', reason: `${loaded.source} (store ${config.store.integrationId}, mode ${config.mode})` });
  for (const w of loaded.warnings) checks.push({ name: 'config', status: 'warn', reason: w });
  checks.push(checkDataDir(config.dataDir));
  checks.push(checkDiskSpace(config.dataDir, config.journal.reserveBytes, config.journal.diskLowBytes, config.journal.maxBytes));
  const tls = await checkTlsFiles(config.http, Date.now());
  checks.push({ name: tls.name, status: tls.status, reason: tls.reason });
  const daemon = await checkDaemon(loaded, timeoutMs, tls.sha256);
  checks.push(...daemon.checks);
  checks.push(...(await checkTalonOne(loaded, timeoutMs)));
  checks.push(await checkBroker(loaded, timeoutMs));
  checks.push(...(await checkScanners(loaded, daemon.serial)));
  return checks;
}

function checkDataDir(dir: string): Check {
  const name = 'data dir';
  if (!existsSync(dir)) {
    const parent = path.dirname(dir);
    return existsSync(parent)
      ? { name, status: 'warn', reason: `${dir} does not exist yet: the daemon creates it at its first start (systemd: StateDirectory=)` }
      : { name, status: 'fail', reason: `${dir} does not exist, nor its parent ${parent}: set dataDir in the config` };
  }
  const probe = path.join(dir, `.doctor-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(probe, 'ok');
    unlinkSync(probe);
    return { name, status: 'ok', reason: `${dir} is writable` };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const who = process.getuid?.() === 0 ? 'root' : `uid ${process.getuid?.()}`;
    return { name, status: 'fail', reason: `${dir} is not writable by ${who} (${code}): the service's user must own it (systemd's StateDirectory= does that)` };
  }
}

function checkDiskSpace(dir: string, reserve: number, low: number, maxJournal: number): Check {
  const name = 'disk space';
  let free: number;
  try {
    const s = statfsSync(existsSync(dir) ? dir : path.dirname(dir));
    free = s.bavail * s.bsize;
  } catch (err) {
    return { name, status: 'warn', reason: `cannot read the free space of ${dir}: ${(err as Error).message}` };
  }
  const f = `${formatCount(Math.round(free / MiB))} MiB free`;
  if (free < reserve) return { name, status: 'fail', reason: `${f}, less than the ${Math.round(reserve / MiB)} MiB reserve: offline answers will soon get 503 (SG_ERR_DISK_FULL); free space on the data dir's disk` };
  if (free < low) return { name, status: 'warn', reason: `${f}, below journal.diskLowBytes (${Math.round(low / MiB)} MiB): free space before an outage fills it` };
  if (free < maxJournal) return { name, status: 'warn', reason: `${f}, less than journal.maxBytes (${Math.round(maxJournal / MiB)} MiB): a long outage would fill the disk before the journal's own limit` };
  return { name, status: 'ok', reason: f };
}

/** GET on the daemon, over HTTPS with the config's trust when it has http.tls (src/cli/daemon-client.ts). */
async function getJson(target: DaemonTarget, path: string, token: string | null, timeoutMs: number): Promise<{ status: number; body: unknown; peerSha256?: string }> {
  const res = await daemonRequest(target, 'GET', path, token ? { authorization: `Bearer ${token}` } : {}, undefined, timeoutMs);
  const text = res.text;
  let body: unknown = null;
  try {
    body = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    // not JSON: only the status matters then
  }
  return { status: res.status, body, ...(res.peerSha256 ? { peerSha256: res.peerSha256 } : {}) };
}

/** A serial port as the running daemon's `/status` shows it. */
interface DaemonPort {
  id: string;
  open: boolean;
  scans?: number;
  lastScanAt?: string | null;
}

async function checkDaemon(loaded: LoadedConfig, timeoutMs: number, certSha256?: string): Promise<{ checks: Check[]; serial: DaemonPort[] }> {
  const target = daemonTarget(loaded.config);
  const base = target.url;
  const none = (c: Check) => ({ checks: [c], serial: [] });
  let ready: { status: number; body: unknown; peerSha256?: string };
  try {
    ready = await getJson(target, '/readyz', null, timeoutMs);
  } catch (err) {
    // Refused, a timeout, or a TLS disagreement, each in words (src/cli/daemon-client.ts).
    return none({ name: 'daemon', status: 'warn', reason: `${(err as Error).message}` });
  }
  if (ready.status !== 200) return none({ name: 'daemon', status: 'fail', reason: `${base}/readyz answers ${ready.status}: the daemon runs but is not ready (journalctl -u storegate)` });
  const out: Check[] = [{ name: 'daemon', status: 'ok', reason: `running and ready at ${base}` }];
  // A replaced certificate is picked up within http.tls.checkIntervalSec; one still not served was refused (the log says why).
  if (certSha256 && ready.peerSha256 && ready.peerSha256 !== certSha256) {
    out.push({ name: 'https', status: 'warn', reason: `the daemon presents another certificate (SHA-256 ${ready.peerSha256.slice(0, 16)}…) than certFile (${certSha256.slice(0, 16)}…): it reloads changed files within http.tls.checkIntervalSec; if this stays, journalctl -u storegate says why the new files were refused` });
  }
  if (!loaded.config.adminToken) return { checks: out, serial: [] };
  let s: { status: number; body: unknown };
  try {
    s = await getJson(target, '/status', loaded.config.adminToken, timeoutMs);
  } catch {
    return { checks: out, serial: [] };
  }
  if (s.status === 401) {
    out.push({ name: 'journal', status: 'warn', reason: "the daemon refused this config's adminToken: it runs with another config (pass the same --config as the service)" });
    return { checks: out, serial: [] };
  }
  const doc = s.body as { journal?: { depth: number; oldestAgeSec: number; dead: number }; serial?: DaemonPort[] } | null;
  const j = doc?.journal;
  if (j) {
    const line = `${formatCount(j.depth)} undelivered (oldest ${j.oldestAgeSec} s), ${j.dead} dead letter(s)`;
    if (j.dead > 0) out.push({ name: 'journal', status: 'warn', reason: `${line}: Talon.One refused them; see storegate journal dead, then retry or discard` });
    else if (j.depth > 0 && j.oldestAgeSec > 3600) out.push({ name: 'journal', status: 'warn', reason: `${line}: nothing delivered for over an hour; is Talon.One reachable?` });
    else out.push({ name: 'journal', status: 'ok', reason: line });
  }
  return { checks: out, serial: Array.isArray(doc?.serial) ? doc.serial : [] };
}

async function checkTalonOne(loaded: LoadedConfig, timeoutMs: number): Promise<Check[]> {
  const { config } = loaded;
  if (!config.upstream.baseUrl) {
    const status: CheckStatus = config.mode === 'offline' ? 'ok' : 'fail';
    return [{ name: 'talon.one', status, reason: status === 'ok' ? 'none configured (offline only)' : `mode ${config.mode} needs upstream.baseUrl` }];
  }
  if (!loaded.apiKey) return [{ name: 'talon.one', status: 'fail', reason: 'no API key: set upstream.apiKeyFile (or upstream.apiKey)' }];
  const r = await checkUpstream({ baseUrl: config.upstream.baseUrl, apiKey: loaded.apiKey, timeoutMs });
  const where = new URL(config.upstream.baseUrl).host;
  if (r.status === null) return [{ name: 'talon.one', status: 'fail', reason: `${where} not reachable: ${r.error ?? 'no answer'} (network, DNS or a proxy on the way)` }];
  if (r.status === 401 || r.status === 403) return [{ name: 'talon.one', status: 'fail', reason: `${where} refused the API key (HTTP ${r.status}): check upstream.apiKeyFile holds an Integration API key of the store's Application` }];
  if (r.status >= 500) return [{ name: 'talon.one', status: 'warn', reason: `${where} answers HTTP ${r.status}: Talon.One has trouble; offline answers cover the shop meanwhile` }];
  const out: Check[] = [{ name: 'talon.one', status: 'ok', reason: `${where} reachable, API key accepted (${Math.round(r.ms)} ms)` }];
  if (r.skewMs === null) out.push({ name: 'clock', status: 'warn', reason: `${where} sent no Date header: clock skew unknown` });
  else {
    const s = Math.abs(r.skewMs);
    const words = `${(r.skewMs / 1000).toFixed(1)} s from Talon.One's clock`;
    if (s > SKEW_FAIL_MS) out.push({ name: 'clock', status: 'fail', reason: `${words}: promotions' start and end times will be wrong offline; enable NTP (timedatectl set-ntp true)` });
    else if (s > SKEW_WARN_MS) out.push({ name: 'clock', status: 'warn', reason: `${words}: enable NTP (timedatectl set-ntp true)` });
    else out.push({ name: 'clock', status: 'ok', reason: words });
  }
  return out;
}

async function checkBroker(loaded: LoadedConfig, timeoutMs: number): Promise<Check> {
  const m = loaded.config.mqtt;
  if (!m.url) return { name: 'mqtt', status: 'ok', reason: 'no broker configured (head office pushes only over HTTP)' };
  const where = new URL(m.url).host;
  try {
    const read = (f: string | null) => (f ? readFileSync(path.resolve(loaded.baseDir, f)) : undefined);
    const ca = read(m.caFile);
    const cert = read(m.certFile);
    const key = read(m.keyFile);
    const r = await probeBroker({
      url: m.url,
      clientId: `storegate-${loaded.config.store.integrationId}-doctor-${randomBytes(3).toString('hex')}`,
      timeoutMs,
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
      ...(m.username ? { username: m.username } : {}),
      ...(m.password ? { password: m.password } : {}),
    });
    const keys = loaded.config.trust.publicKeys.length;
    return { name: 'mqtt', status: 'ok', reason: `${where} accepts us (MQTT ${r.protocolVersion === 5 ? '5' : '3.1.1'}, ${Math.round(r.ms)} ms); ${keys > 0 ? `${keys} trusted key(s) for pushes` : 'no trust.publicKeys: pushes are refused'}` };
  } catch (err) {
    return { name: 'mqtt', status: 'fail', reason: `${where}: ${(err as Error).message} (is the broker up, and are mqtt.username/password and caFile right?)` };
  }
}

async function checkScanners(loaded: LoadedConfig, running: readonly DaemonPort[]): Promise<Check[]> {
  const out: Check[] = [];
  const groups = serviceUserGroups('storegate');
  for (const port of loaded.config.serial) {
    const c = await checkSerialPort(port);
    const check: Check = { name: c.name, status: c.status, reason: c.reason };
    // Busy because the running daemon has it open and serves it: that is the healthy case.
    const held = running.find((p) => p.id === port.id);
    if (c.code === 'EBUSY' && held?.open) {
      const last = held.lastScanAt ? `, last scan ${held.lastScanAt}` : ', no scan yet';
      Object.assign(check, { status: 'ok', reason: `${port.path} is open in the running daemon (${held.scans ?? 0} scans${last})` });
    }
    // Run as root, doctor opens any device: say whether the service's own user may.
    if (c.status !== 'fail' && groups !== null && process.getuid?.() === 0) {
      try {
        const gid = statSync(port.path).gid;
        if (!groups.gids.has(gid)) {
          const group = groups.nameOf(gid) ?? `gid ${gid}`;
          Object.assign(check, { status: 'fail', reason: `user storegate is not in group ${group}, which owns ${port.path}: sudo usermod -aG ${group} storegate, then sudo systemctl restart storegate` });
        }
      } catch {
        // the port check above already said what is wrong with the path
      }
    }
    out.push(check);
  }
  return out;
}
