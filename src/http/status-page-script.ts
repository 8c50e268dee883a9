/**
 * The status page's JavaScript (browser side, plain ES2017, no build step): polls `/ui/status.json` every few
 * seconds and updates the page in place. With the admin token (typed once, kept in this tab's sessionStorage,
 * never in a cookie or the URL) it also reads `/status` and offers the actions. Everything from the gateway is
 * put in the page as text (textContent), never as HTML: campaign names and error texts come from outside.
 */
export const PAGE_SCRIPT = String.raw`
var TOKEN_KEY = 'storegate.adminToken';
var POLL_MS = 5000;
var FETCH_TIMEOUT_MS = 4000;
/** An operator's flush waits for the deliveries (at most 30 s on the gateway's side). */
var ACTION_TIMEOUT_MS = 35000;
var MODES = { offline: 'answers here only', hybrid: 'answers here, sends to Talon.One after', connected: 'asks Talon.One first' };
var UP_WORDS = { up: 'up', degraded: 'slow', down: 'down' };
var state = { summary: null, receivedAt: 0, status: null, dead: null, token: null, lost: false, polling: false, timer: 0 };

function $(id) { return document.getElementById(id); }
function add(n, kids) {
  if (kids === undefined || kids === null) return n;
  (Array.isArray(kids) ? kids : [kids]).forEach(function (k) {
    if (k === null || k === undefined || k === false) return;
    n.appendChild(typeof k === 'object' ? k : document.createTextNode(String(k)));
  });
  return n;
}
function el(tag, cls, kids) { var n = document.createElement(tag); if (cls) n.className = cls; return add(n, kids); }
function fill(id, kids) { var n = $(id); if (n) { n.textContent = ''; add(n, kids); } return n; }
function fmtNum(x) { return x === null || x === undefined ? '-' : Number(x).toLocaleString('en-US', { maximumFractionDigits: 1 }); }
function dur(sec) {
  var s = Math.max(0, Math.round(sec));
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min';
  if (s < 48 * 3600) return Math.floor(s / 3600) + ' h' + (s % 3600 >= 60 ? ' ' + Math.floor((s % 3600) / 60) + ' min' : '');
  return Math.floor(s / 86400) + ' days';
}
/** The gateway's time now (its clock, not the phone's: they may differ). */
function serverNow() { return state.summary ? Date.parse(state.summary.at) + (Date.now() - state.receivedAt) : Date.now(); }
function ago(iso) {
  if (!iso) return 'never';
  var t = Date.parse(iso);
  return isFinite(t) ? dur((serverNow() - t) / 1000) + ' ago' : '-';
}
function clockText(ms) { return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' }); }
function bytes(b) { return b >= 1048576 ? fmtNum(b / 1048576) + ' MB' : fmtNum(Math.ceil(b / 1024)) + ' KB'; }

function tile(key, value, sub, tone, id) {
  var v = el('div', 'v', value);
  if (id) v.id = id;
  return el('div', 'tile' + (tone ? ' ' + tone : ''), [el('div', 'k', key), v, sub ? el('div', 's', sub) : null]);
}
function rows(items) {
  return el('ul', 'rows', items.filter(Boolean).map(function (r) { return el('li', null, [el('span', 'rk', r[0]), el('span', 'rv', r[1])]); }));
}

// ---- the public part ----------------------------------------------------------------------------

function renderVerdict(s) {
  var sec = $('verdict');
  if (state.lost) {
    sec.setAttribute('data-level', 'stale');
    fill('verdict', [
      el('p', 'level', 'No contact with storegate'),
      el('p', 'sub', 'Last answer at ' + (state.receivedAt ? clockText(state.receivedAt) : 'never') + '. The figures below are old. Is the mini-PC on and on the network? On it: sudo systemctl status storegate.'),
    ]);
    return;
  }
  var v = s.verdict;
  sec.setAttribute('data-level', v.level);
  fill('verdict', [
    el('p', 'level', v.headline),
    v.reasons.length ? el('ol', 'reasons', v.reasons.map(function (r) {
      return el('li', r.level, [el('span', 'what', r.text), el('span', 'do', r.action)]);
    })) : null,
  ]);
}

function renderFigures(s) {
  var up = s.upstream;
  var j = s.journal || { depth: 0, oldestAgeSec: 0, usedPct: null, dead: 0, writable: true };
  var skew = s.clockSkewMs;
  var upTile = !up.configured
    ? tile('Talon.One', 'not set up', 'no connection configured', 'warn', 'upstream-state')
    : tile('Talon.One', UP_WORDS[up.state] || up.state, up.latencyMsP50 === null ? 'no calls yet' : 'median ' + fmtNum(up.latencyMsP50) + ' ms' + (up.latencyMsP95 === null ? '' : ', 95 % within ' + fmtNum(up.latencyMsP95) + ' ms'),
      up.state === 'up' ? 'good' : up.state === 'degraded' ? 'warn' : 'bad', 'upstream-state');
  var full = j.usedPct === null ? '' : ' \u00b7 ' + fmtNum(j.usedPct) + ' % full';
  var jTone = !j.writable || j.usedPct >= 90 ? 'bad' : j.usedPct >= 70 ? 'warn' : null;
  var t = s.terminals;
  var open = s.scanners.filter(function (p) { return p.open; }).length;
  fill('figures', el('div', 'grid', [
    tile('Mode', s.mode, MODES[s.mode] || null, null, 'mode'),
    upTile,
    tile('Journal: sales waiting', fmtNum(j.depth), (j.depth ? 'oldest ' + dur(j.oldestAgeSec) : 'nothing to send') + full + (j.writable ? '' : ' \u00b7 NOT WRITABLE'), jTone, 'journal-depth'),
    tile('Dead letters', fmtNum(j.dead), j.dead ? 'refused by Talon.One' : 'none', j.dead ? 'bad' : 'good', 'dead-letters'),
    tile('Reconciliation', fmtNum(s.reconciliation), 'answers Talon.One corrected', null, 'reconciliation'),
    tile('Clock skew', skew === null ? 'unknown' : fmtNum(skew / 1000) + ' s', skew === null ? 'no answer from Talon.One yet' : 'vs Talon.One', skew !== null && Math.abs(skew) > 2000 ? 'bad' : skew === null ? null : 'good', 'clock-skew'),
    tile('Terminals seen', t.seen + ' of ' + t.configured, t.lastSeenAt ? 'last ' + ago(t.lastSeenAt) : 'none since the start', null, 'terminals'),
    tile('Scanners', s.scanners.length ? open + ' of ' + s.scanners.length : 'none', s.scanners.length ? 'connected' : 'configured', open < s.scanners.length ? 'warn' : null, 'scanners'),
    tile('Head office link', !s.mqtt.configured ? 'not set up' : s.mqtt.connected ? 'up' : 'down', s.mqtt.configured ? (s.mqtt.since ? (s.mqtt.connected ? 'connected ' : 'lost ') + ago(s.mqtt.since) : 'never connected') + (s.mqtt.queued ? ' \u00b7 ' + s.mqtt.queued + ' queued' : '') : 'no broker configured', !s.mqtt.configured ? null : s.mqtt.connected ? 'good' : 'warn', 'mqtt'),
  ]));
}

function renderData(s) {
  var c = s.cache;
  if (!c) { fill('data-body', el('p', null, 'Local data not loaded.')); return; }
  fill('data-body', rows([
    ['Campaigns', c.running + ' running of ' + c.campaigns],
    ['Not offline-capable', c.notOfflineCapable ? c.notOfflineCapable + ' (unlock to see)' : 'none'],
    ['Rules version', fmtNum(c.rulesVersion)],
    ['Prices version', fmtNum(c.pricesVersion) + ' (' + fmtNum(c.pricedSkus) + ' items)'],
    ['Coupons version', fmtNum(c.couponsVersion) + ' (' + fmtNum(c.coupons) + ' codes)'],
    ['Loyalty version', fmtNum(c.loyaltyVersion)],
    ['Last updated', ago(c.updatedAt)],
    s.flush ? ['Last delivery to Talon.One', ago(s.flush.lastFlushAt) + (s.flush.retrying ? ' \u00b7 ' + s.flush.retrying + ' retrying' : '')] : null,
    s.pendingRestart ? ['Waiting for a restart', s.pendingRestart + ' setting(s)'] : null,
  ]));
}

function renderDevices(s) {
  var items = s.scanners.map(function (p) {
    return ['Scanner ' + p.id, (p.open ? 'connected' : 'NOT connected' + (p.errorCode ? ' (' + p.errorCode + ')' : '')) + (p.lastScanAt ? ' \u00b7 last scan ' + ago(p.lastScanAt) : '')];
  });
  if (!items.length) items.push(['Scanners', 'none configured']);
  items.push(['Terminal requests', fmtNum(s.terminals.requests) + ' since the start']);
  fill('devices-body', rows(items));
}

function render() {
  var s = state.summary;
  if (!s) return;
  document.body.classList.toggle('stale', state.lost);
  renderVerdict(s);
  if (state.lost) return;
  fill('store', s.store || '');
  renderFigures(s);
  fill('plots-body', renderPlots(s.history, serverNow()));
  renderData(s);
  renderDevices(s);
  fill('footer', 'Updated ' + clockText(state.receivedAt) + ' \u00b7 refreshes every ' + POLL_MS / 1000 + ' s \u00b7 storegate ' + (s.version || '') + ' \u00b7 running for ' + dur(s.uptimeSec || 0));
}

// ---- network ------------------------------------------------------------------------------------

/** One request to this gateway: the token only in the Authorization header, no cookies, never cached. */
function call(method, path, body, timeoutMs) {
  var ctl = new AbortController();
  var t = setTimeout(function () { ctl.abort(); }, timeoutMs || FETCH_TIMEOUT_MS);
  var headers = {};
  if (state.token && path !== '/ui/status.json') headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(path, { method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store', credentials: 'omit', signal: ctl.signal })
    .then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = text ? JSON.parse(text) : null; } catch (e) { json = null; }
        return { status: res.status, json: json };
      });
    })
    .finally(function () { clearTimeout(t); });
}

function poll() {
  if (state.polling) return;
  if (document.hidden) return; // picked up again when the page is shown
  state.polling = true;
  var jobs = [call('GET', '/ui/status.json').then(function (r) {
    if (r.status !== 200 || !r.json) throw new Error('status ' + r.status);
    state.summary = r.json;
    state.receivedAt = Date.now();
    state.lost = false;
  }).catch(function () { state.lost = true; })];
  if (state.token) jobs.push(refreshAdmin());
  Promise.all(jobs).then(function () {
    render();
    renderAdmin();
  }).finally(function () {
    state.polling = false;
    clearTimeout(state.timer);
    state.timer = setTimeout(poll, POLL_MS);
  });
}
`;
