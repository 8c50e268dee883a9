/**
 * `GET /fleet` for people: one row per shop, the ones that need a look first (refusing, lagging, silent,
 * offline), refreshed every 10 s. Plain HTML, no script; the same data as the JSON.
 */
import type { FleetDoc } from './service.js';
import type { ShopView } from './fleet.js';

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const ORDER: ShopView['state'][] = ['refusing', 'lagging', 'silent', 'offline', 'unknown', 'syncing', 'ok'];

function age(iso: string | null, now: number): string {
  if (!iso) return '—';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s} s ago` : s < 7200 ? `${Math.round(s / 60)} min ago` : `${Math.round(s / 3600)} h ago`;
}

function versions(s: ShopView): string {
  return (['rules', 'coupons', 'loyalty', 'prices', 'collections'] as const)
    .map((k) => {
      const a = s.applied[k];
      const l = s.latest[k];
      if (l === null && a === null) return '';
      const cls = s.behind.includes(k) ? ' class="behind"' : '';
      return `<div${cls}>${k} ${esc(a ?? '—')}${l !== null && a !== l ? ` / ${esc(l)}` : ''}</div>`;
    })
    .join('');
}

export function renderFleetPage(doc: FleetDoc, now: number): string {
  const shops = [...doc.shops].sort((a, b) => ORDER.indexOf(a.state) - ORDER.indexOf(b.state) || a.store.localeCompare(b.store));
  const counts = Object.entries(doc.summary).map(([k, v]) => `<span class="pill ${esc(k)}">${esc(k)} ${esc(v)}</span>`).join(' ');
  const rows = shops
    .map((s) => {
      const r = s.lastRefusal;
      const refusal = r && s.refusing ? `${esc(r.kind)} v${esc(r.version)}: ${esc(r.code)} ${esc(r.error)}` : r ? `<span class="old">${esc(r.kind)}: ${esc(r.code)}</span>` : '';
      return `<tr class="${esc(s.state)}"><td>${esc(s.store)}</td><td>${esc(s.state)}</td><td>${s.online === null ? '—' : s.online ? 'yes' : 'no'}</td><td>${esc(s.mode ?? '—')}</td><td>${esc(s.upstream ?? '—')}</td><td>${esc(s.journalDepth ?? '—')}</td><td>${s.oldestUndeliveredAgeSec === null ? '—' : `${esc(s.oldestUndeliveredAgeSec)} s`}</td><td>${versions(s)}</td><td>${refusal}</td><td>${esc(age(s.lastSeen, now))}</td></tr>`;
    })
    .join('\n');
  const pull = doc.pull;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10"><title>storegate head office: fleet</title>
<style>body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;width:100%}th,td{padding:.35em .6em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
tr.refusing{background:#fde2e2}tr.lagging{background:#fff1d6}tr.silent,tr.offline{background:#eee}.behind{color:#b45309;font-weight:600}.old{color:#888}
.pill{display:inline-block;padding:.15em .6em;border-radius:1em;background:#eee;margin-right:.3em}.pill.refusing{background:#fca5a5}.pill.lagging{background:#fcd34d}.pill.ok{background:#bbf7d0}</style></head>
<body><h1>Fleet</h1><p>${counts}</p>
<p>Talon.One: last listing ${esc(age(pull.lastListingAt, now))}, coupons ${esc(age(pull.lastCouponsAt, now))}, loyalty ${esc(age(pull.lastLoyaltyAt, now))}${pull.lastError ? `; <strong>last error:</strong> ${esc(pull.lastError)}` : ''}. Broker: ${doc.broker.connected ? 'connected' : '<strong>disconnected</strong>'}.</p>
${doc.errors.map((e) => `<p><strong>push error</strong> ${esc(e.kind)} → ${esc(e.target)}: ${esc(e.error.code)} ${esc(e.error.message)}</p>`).join('')}
${doc.dataProblems.map((p) => `<p><strong>left out</strong> (a shop would refuse it): ${esc(p.kind)} ${esc(p.what)}: ${esc(p.error)}</p>`).join('')}
<table><thead><tr><th>shop</th><th>state</th><th>online</th><th>mode</th><th>upstream</th><th>journal</th><th>oldest undelivered</th><th>applied / latest pushed</th><th>last refusal</th><th>last seen</th></tr></thead>
<tbody>
${rows}
</tbody></table></body></html>`;
}
