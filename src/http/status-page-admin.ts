/**
 * The status page's technician part (browser JavaScript, in the page script's scope): unlock with the admin
 * token, the details only `/status` holds (error texts, device paths, campaigns not offline-capable and why,
 * terminals, dead letters), and the actions Flush now and Retry dead letters. The token lives in this tab's
 * sessionStorage (gone when the tab closes, never sent anywhere but in an Authorization header).
 */
export const ADMIN_SCRIPT = String.raw`
function storeToken(t) { try { if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* private mode: memory only */ } }
function loadToken() { try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; } }

function lock(message) {
  state.token = null;
  state.status = null;
  state.dead = null;
  storeToken(null);
  $('admin').hidden = true;
  $('unlock').hidden = false;
  fill('admin-details', null);
  fill('unlock-msg', message || '');
}

/** Reads /status (and the dead letters when there are some) with the token; a refused token locks the page. */
function refreshAdmin() {
  return call('GET', '/status').then(function (r) {
    if (r.status === 401) { lock('The admin token was refused (it may have been changed). Type it again.'); return; }
    if (r.status !== 200 || !r.json) throw new Error('status ' + r.status);
    state.status = r.json;
    if (r.json.journal && r.json.journal.dead > 0) {
      return call('GET', '/admin/journal/dead').then(function (d) { state.dead = d.status === 200 ? d.json : null; });
    }
    state.dead = null;
  }).catch(function () { /* the public part shows lost contact */ });
}

function section(title, body) { return el('div', 'detail', [el('h3', null, title), body]); }

function renderAdmin() {
  var st = state.status;
  if (!state.token || !st) return;
  $('unlock').hidden = true;
  $('admin').hidden = false;
  var out = [];
  var errs = [];
  var up = st.upstream || {};
  if (up.lastError) errs.push(['Talon.One', up.lastError + (up.lastOkAt ? ' (last OK ' + ago(up.lastOkAt) + ')' : '')]);
  if (st.flush && st.flush.lastError) errs.push(['Delivery', st.flush.lastError]);
  if (st.journal && st.journal.lastWriteError) errs.push(['Journal', st.journal.lastWriteError.code + ', ' + ago(st.journal.lastWriteError.at)]);
  if (st.mqtt && st.mqtt.lastError) errs.push(['Broker', st.mqtt.lastError]);
  (st.serial || []).forEach(function (p) { if (p.lastError) errs.push(['Scanner ' + p.id, p.lastError.message + ' (' + p.lastError.code + ', ' + ago(p.lastError.at) + ')']); });
  Object.keys(st.pushes || {}).forEach(function (k) { var p = st.pushes[k]; if (p && p.ok === false) errs.push(['Push ' + k, (p.code || '') + ' ' + (p.error || '') + ' (' + ago(p.at) + ')']); });
  out.push(section('Last errors', errs.length ? rows(errs) : el('p', null, 'none')));

  if (state.dead && state.dead.length) {
    out.push(section('Dead letters (refused by Talon.One)', rows(state.dead.slice(0, 20).map(function (d) {
      var b = d.upstreamBody || {};
      if (typeof b === 'string') { try { b = JSON.parse(b) || {}; } catch (e) { b = { message: b }; } }
      var why = b.message || (b.errors && b.errors[0] && (b.errors[0].title + ': ' + b.errors[0].details)) || JSON.stringify(b).slice(0, 160);
      return ['#' + d.seq + ' ' + d.kind + ' ' + d.key, 'HTTP ' + d.status + ': ' + why + (d.retrying ? ' (retrying)' : '') + (d.laterSent ? ' (overtaken by #' + d.laterSent + ')' : '')];
    }))));
  }
  var camps = ((st.cache && st.cache.campaigns) || []).filter(function (c) { return c.running !== false && c.offlineCapable === false; });
  out.push(section('Campaigns not offline-capable', camps.length ? rows(camps.map(function (c) { return [c.name + ' (' + c.id + ')', c.reason || 'no reason given']; })) : el('p', null, 'none')));
  out.push(section('Terminals', (st.terminals || []).length ? rows(st.terminals.map(function (t) {
    return [t.id, t.lastSeenAt ? 'last seen ' + ago(t.lastSeenAt) + ' \u00b7 ' + fmtNum(t.requests) + ' requests' : 'not seen since the start'];
  })) : el('p', null, 'none configured')));
  if ((st.serial || []).length) {
    out.push(section('Scanners', rows(st.serial.map(function (p) { return [p.id + ' (' + p.role + ')', p.path + ' \u00b7 ' + (p.open ? 'open' : 'closed') + ' \u00b7 ' + fmtNum(p.scans) + ' scans, ' + fmtNum(p.reopenCount) + ' reopens']; }))));
  }
  var m = st.mqtt || {};
  out.push(section('Head office broker', m.configured === false ? el('p', null, 'not configured') : rows([
    ['Broker', m.broker || '-'], ['Connected', m.connected ? 'yes, MQTT ' + (m.protocolVersion || '') : 'no'], ['Reconnects', fmtNum(m.reconnects)], ['Queued / dropped', fmtNum(m.queued) + ' / ' + fmtNum(Object.keys(m.dropped || {}).reduce(function (n, k) { return n + m.dropped[k]; }, 0))],
  ])));
  var pushes = Object.keys(st.pushes || {});
  if (pushes.length) out.push(section('Last pushes', rows(pushes.map(function (k) { var p = st.pushes[k]; return [k, 'v' + p.version + ' ' + (p.ok ? 'applied' : 'refused') + ' via ' + p.via + ', ' + ago(p.at)]; }))));
  if (st.process) out.push(section('Memory', el('p', null, 'RSS ' + fmtNum(st.process.rssMb) + ' MB, heap ' + fmtNum(st.process.heapUsedMb) + ' of ' + fmtNum(st.process.heapTotalMb) + ' MB')));
  fill('admin-details', out);
  $('retry').disabled = !(st.journal && st.journal.dead > 0);
}

function act(button, method, path, body, describe) {
  button.disabled = true;
  fill('action-msg', 'Working...');
  call(method, path, body, ACTION_TIMEOUT_MS).then(function (r) {
    if (r.status === 401) { lock('The admin token was refused. Type it again.'); return; }
    var j = r.json || {};
    fill('action-msg', r.status === 200 ? describe(j) : 'Refused (HTTP ' + r.status + '): ' + (j.message || 'no reason given'));
  }).catch(function () {
    fill('action-msg', 'No answer from storegate.');
  }).finally(function () {
    button.disabled = false;
    // The public summary is at most a second old: look again once it shows what the action did.
    setTimeout(poll, 1200);
  });
}

function init() {
  try { render(); } catch (e) { /* shown by the first poll */ }
  $('unlock').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var input = $('token');
    var token = input.value.trim();
    input.value = '';
    if (!token) { fill('unlock-msg', 'Type the admin token (adminToken in the config file).'); return; }
    fill('unlock-msg', 'Checking...');
    state.token = token;
    refreshAdmin().then(function () {
      if (!state.token || !state.status) { if (state.token) lock('No answer from storegate.'); return; }
      storeToken(token);
      fill('unlock-msg', '');
      renderAdmin();
    });
  });
  $('lock').addEventListener('click', function () { lock('Locked.'); });
  $('flush').addEventListener('click', function (ev) {
    act(ev.currentTarget, 'POST', '/admin/journal/flush', undefined, function (j) {
      if (j.ok === false) return 'Not flushed: ' + (j.reason || 'no reason given');
      return 'Flushed: ' + fmtNum(j.delivered) + ' delivered, ' + fmtNum(j.deadLettered) + ' refused, ' + fmtNum(j.journal ? j.journal.depth : j.remaining) + ' still waiting' + (j.timedOut ? ' (still working)' : '') + '.';
    });
  });
  $('retry').addEventListener('click', function (ev) {
    var n = state.status && state.status.journal ? state.status.journal.dead : 0;
    if (!window.confirm('Send the ' + n + ' dead letter(s) to Talon.One again? Fix the cause first, or they are refused again.')) return;
    act(ev.currentTarget, 'POST', '/admin/journal/dead/retry', {}, function (j) {
      return 'Retried ' + fmtNum(j.retried) + (j.skipped && j.skipped.length ? ', skipped ' + j.skipped.length + ' (' + j.skipped.map(function (s) { return '#' + s.seq + ': ' + s.reason; }).join('; ') + ')' : '') + '.';
    });
  });
  document.addEventListener('visibilitychange', function () { if (!document.hidden) poll(); });
  state.token = loadToken();
  poll();
}

var initial = $('initial');
if (initial) {
  try { state.summary = JSON.parse(initial.textContent); state.receivedAt = Date.now(); } catch (e) { state.summary = null; }
}
init();
`;
