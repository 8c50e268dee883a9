import type { StatusDoc } from './ops-routes.js';

const esc = (v: unknown): string =>
  String(v ?? '—').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

function section(title: string, value: unknown): string {
  if (value === undefined) return '';
  if (Array.isArray(value)) {
    const rows = value.map((v) => `<li>${esc(typeof v === 'object' ? JSON.stringify(v) : v)}</li>`).join('');
    return `<h2>${esc(title)}</h2><ul>${rows || '<li>none</li>'}</ul>`;
  }
  if (typeof value === 'object' && value !== null) {
    const rows = Object.entries(value)
      .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(typeof v === 'object' && v !== null ? JSON.stringify(v) : v)}</td></tr>`)
      .join('');
    return `<h2>${esc(title)}</h2><table>${rows}</table>`;
  }
  return `<h2>${esc(title)}</h2><p>${esc(value)}</p>`;
}

/** The technicians' status page: the `/status` document as plain HTML, auto-refreshing, no scripts. */
export function renderStatusPage(s: StatusDoc): string {
  const { version, mode, ...rest } = s;
  const body = Object.entries(rest)
    .map(([k, v]) => section(k, v))
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>storegate ${esc(version)}</title>
<style>body{font:15px system-ui,sans-serif;margin:2em;max-width:60em}th{text-align:left;padding-right:1em;vertical-align:top}td{font-family:monospace}</style>
</head><body>
<h1>storegate</h1>
<p>version <b>${esc(version)}</b> · mode <b>${esc(mode)}</b></p>
${body}
</body></html>
`;
}
