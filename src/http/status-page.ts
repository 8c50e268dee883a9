/**
 * The technicians' status page (`GET /`): an HTML shell with the verdict already in it (readable before the
 * script runs, or without it), the public summary as a JSON data block for the first paint, and the places the
 * script (src/http/status-page-script.ts) fills and keeps up to date. Public: it carries only the public
 * summary (src/status/summary.ts), never a token, key, path or error text.
 */
import type { PublicSummary } from '../status/summary.js';

const esc = (v: unknown): string =>
  String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** JSON inside <script>: `<` escaped, so no value can close the element ("</script>") or open a comment. */
const jsonBlock = (v: unknown): string => JSON.stringify(v).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

export function renderStatusPage(s: PublicSummary, assetVersion: string): string {
  const v = s.verdict;
  const reasons = v.reasons.map((r) => `<li class="${esc(r.level)}"><span class="what">${esc(r.text)}</span><span class="do">${esc(r.action)}</span></li>`).join('');
  const q = encodeURIComponent(assetVersion);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<link rel="icon" href="data:,">
<title>storegate ${esc(s.store)}</title>
<link rel="stylesheet" href="/ui/status.css?v=${q}">
<script src="/ui/status.js?v=${q}" defer></script>
</head>
<body>
<main>
<header class="top"><h1>storegate <span class="store" id="store">${esc(s.store)}</span></h1></header>
<section id="verdict" class="verdict" data-level="${esc(v.level)}" aria-live="polite">
<p class="level">${esc(v.headline)}</p>${reasons ? `<ol class="reasons">${reasons}</ol>` : ''}
</section>
<noscript><p class="card">This page keeps itself up to date with JavaScript; without it, reload the page to refresh the verdict.</p></noscript>
<section class="card" aria-label="Key figures" id="figures"></section>
<section class="card"><h2>Last hour</h2><div class="plots" id="plots-body"></div></section>
<section class="card"><h2>Local data</h2><div id="data-body"></div></section>
<section class="card"><h2>Devices</h2><div id="devices-body"></div></section>
<section class="card" id="tech"><h2>Technician</h2>
<form id="unlock" autocomplete="off">
<label for="token">Admin token (adminToken in the config) to see details and act</label>
<div class="row"><input id="token" type="password" autocomplete="off" autocapitalize="off" spellcheck="false"><button type="submit">Unlock</button></div>
<p class="msg" id="unlock-msg" role="status"></p>
<p class="hint">The token stays in this browser tab only (gone when the tab is closed).</p>
</form>
<div id="admin" hidden>
<div class="actions"><button type="button" id="flush">Flush now</button><button type="button" id="retry">Retry dead letters</button><button type="button" id="lock">Lock</button></div>
<p class="msg" id="action-msg" role="status"></p>
<div id="admin-details"></div>
</div>
</section>
<footer id="footer"></footer>
</main>
<script type="application/json" id="initial">${jsonBlock(s)}</script>
</body>
</html>
`;
}
