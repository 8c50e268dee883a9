/**
 * `storegate headoffice [run] --config FILE` starts the head-office sync service; `storegate headoffice status
 * [--url URL] [--json] --config FILE` prints its fleet view (shops that lag behind or refuse pushes first).
 * Exit codes as the rest of the CLI: 0 ok, 1 failure (status: a shop refusing or lagging), 2 usage or config.
 */
import closeWithGrace from 'close-with-grace';
import { createLogger } from '../telemetry/logger.js';
import { loadHeadOfficeConfig } from './config.js';
import type { ShopView } from './fleet.js';
import { HeadOffice, type FleetDoc } from './service.js';

export interface HeadOfficeCliOptions {
  args: string[];
  config: string | undefined;
  url: string | undefined;
  json: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE = 'usage: storegate headoffice [run] --config FILE | storegate headoffice status [--url URL] [--json] --config FILE';

/** Returns the exit code, or -1 while the service runs. */
export async function headofficeCommand(o: HeadOfficeCliOptions): Promise<number> {
  const sub = o.args[0] ?? 'run';
  if ((sub !== 'run' && sub !== 'status') || o.args.length > 1 || (!o.config && !(sub === 'status' && o.url))) {
    o.err(USAGE);
    return 2;
  }
  if (sub === 'status') return status(o);
  const loaded = await loadHeadOfficeConfig(o.config as string);
  const log = createLogger(loaded.config.log.level);
  for (const w of loaded.warnings) log.warn({ mod: 'headoffice' }, w);
  const office = new HeadOffice({ loaded, log });
  await office.start();
  closeWithGrace({ delay: 30_000, logger: false }, async ({ signal, err }) => {
    if (err) log.error({ mod: 'headoffice', err }, 'head office: fatal error, stopping');
    else log.info({ mod: 'headoffice', signal }, 'head office: stopping');
    await office.stop();
    log.flush();
  });
  return -1;
}

async function status(o: HeadOfficeCliOptions): Promise<number> {
  let url = o.url;
  let token: string | null = null;
  if (o.config) {
    const { config } = await loadHeadOfficeConfig(o.config);
    token = config.http.adminToken;
    url ??= `http://${config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host}:${config.http.port}`;
  }
  let doc: FleetDoc;
  try {
    const res = await fetch(`${url}/fleet?format=json`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: AbortSignal.timeout(10_000) });
    if (res.status === 401) {
      o.err(`${url} refused the admin token: is it running with this config?`);
      return 1;
    }
    if (!res.ok) {
      o.err(`${url}/fleet answered ${res.status}`);
      return 1;
    }
    doc = (await res.json()) as FleetDoc;
  } catch (err) {
    const code = (err as { cause?: { code?: string } }).cause?.code;
    o.err(code === 'ECONNREFUSED' ? `connection refused at ${url} — is storegate headoffice running?` : `cannot reach ${url}: ${(err as Error).message}`);
    return 1;
  }
  if (o.json) o.out(JSON.stringify(doc, null, 2));
  else for (const line of describe(doc)) o.out(line);
  return doc.shops.some((s) => s.state === 'refusing' || s.state === 'lagging') ? 1 : 0;
}

const ORDER: ShopView['state'][] = ['refusing', 'lagging', 'silent', 'offline', 'unknown', 'syncing', 'ok'];

export function describe(doc: FleetDoc): string[] {
  const lines: string[] = [];
  const p = doc.pull;
  lines.push(`fleet: ${doc.shops.length} shops — ${Object.entries(doc.summary).map(([k, v]) => `${v} ${k}`).join(', ') || 'none yet'}`);
  lines.push(`broker: ${doc.broker.connected ? 'connected' : 'DISCONNECTED'} (${doc.broker.broker})`);
  lines.push(`Talon.One: first sync ${p.initialDone ? 'done' : 'running'}; listing ${p.lastListingAt ?? 'never'}; coupons ${p.lastCouponsAt ?? 'never'}; loyalty ${p.lastLoyaltyAt ?? 'never'}${p.lastError ? `; last error: ${p.lastError}` : ''}`);
  lines.push(`pushed: ${doc.pushed.map((k) => `${k.kind} v${k.latestVersion} (${k.fleetWide ? 'all shops' : `${k.streams} shops`})`).join(', ')}`);
  for (const e of doc.errors) lines.push(`push error: ${e.kind} → ${e.target}: ${e.error.code} ${e.error.message}`);
  for (const p of doc.dataProblems ?? []) lines.push(`left out (a shop would refuse it): ${p.kind} ${p.what}: ${p.error}`);
  const shops = [...doc.shops].sort((a, b) => ORDER.indexOf(a.state) - ORDER.indexOf(b.state) || a.store.localeCompare(b.store));
  for (const s of shops) {
    const flag = s.state === 'refusing' || s.state === 'lagging' ? '!!' : s.state === 'ok' ? '  ' : ' -';
    const behind = s.behind.map((k) => `${k} ${s.applied[k] ?? 0}<${s.latest[k]}`).join(' ');
    const refusal = s.refusing && s.lastRefusal ? ` refused ${s.lastRefusal.kind} v${s.lastRefusal.version}: ${s.lastRefusal.code} ${s.lastRefusal.error ?? ''}` : '';
    const journal = s.journalDepth === null ? '' : ` journal ${s.journalDepth}${s.oldestUndeliveredAgeSec !== null ? ` (oldest ${s.oldestUndeliveredAgeSec} s)` : ''}`;
    lines.push(`${flag} ${s.store} ${s.state}${s.mode ? ` ${s.mode}` : ''}${s.upstream ? ` upstream ${s.upstream}` : ''}${journal}${behind ? ` behind: ${behind}` : ''}${refusal}; last seen ${s.lastSeen ?? 'never'}`);
  }
  return lines;
}
