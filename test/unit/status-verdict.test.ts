/**
 * The status page's verdict: a table of `/status` documents (a healthy shop with one thing changed) and the
 * verdict each must give — green, amber or red, with the rule that fired. A technician acts on these words.
 */
import { describe, expect, it } from 'vitest';
import { duration, judge, VERDICT_LIMITS } from '../../src/status/verdict.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const iso = (agoSec: number) => new Date(NOW - agoSec * 1000).toISOString();

/** A connected shop with nothing wrong, as `Gateway.status()` reports it. */
function healthy(): Record<string, unknown> {
  return {
    version: '0.1.0',
    mode: 'connected',
    store: 'store-042',
    uptimeSec: 86_400,
    upstream: { configured: true, state: 'up', lastOkAt: iso(1), latencyMsP50: 42, latencyMsP95: 90, lastError: null },
    journal: { depth: 0, bytes: 4096, maxBytes: 1_073_741_824, oldestAgeSec: 0, dead: 0, segments: 1, lastSeq: 10, diskReserve: true, writable: true, lastWriteError: null },
    flush: { inFlight: 0, delivered: 10, deadLettered: 0, retrying: 0, lastError: null, lastFlushAt: iso(60), queued: 0, paused: false },
    cache: {
      rulesVersion: 3,
      pricesVersion: 3,
      couponsVersion: 3,
      loyaltyVersion: 3,
      updatedAt: iso(3600),
      campaigns: [{ id: 1, name: 'Welcome', running: true, offlineCapable: true, reason: null }],
    },
    reconciliation: 0,
    config: { version: 0, pendingRestart: [] },
    mqtt: { configured: true, connected: true, since: iso(3600) },
    serial: [{ id: 'till-1', path: '/dev/serial/by-id/x', role: 'terminal', open: true, since: iso(3600), lastError: null }],
    clockSkewMs: 0,
    terminals: [{ id: 'T1', lastSeenAt: iso(5), requests: 100 }],
  };
}

type Change = (d: Record<string, any>) => void;
const rows: [string, Change, 'green' | 'amber' | 'red', string[]][] = [
  ['a healthy connected shop', () => {}, 'green', []],
  ['an offline shop with sales waiting and Talon.One reachable', (d) => { d.mode = 'offline'; d.journal.depth = 40; d.journal.oldestAgeSec = 30; }, 'green', []],
  ['no MQTT configured', (d) => { d.mqtt = { connected: false, configured: false }; }, 'green', []],
  ['no scanner configured', (d) => { d.serial = []; }, 'green', []],
  ['a clock skew within the limit', (d) => { d.clockSkewMs = -VERDICT_LIMITS.clockSkewMs; }, 'green', []],
  ['a stopped campaign that is not offline-capable', (d) => { d.cache.campaigns.push({ id: 2, name: 'Old', running: false, offlineCapable: false, reason: 'x' }); }, 'green', []],

  ['the journal cannot be written: disk full', (d) => { d.journal.writable = false; d.journal.lastWriteError = { code: 'SG_ERR_DISK_FULL', at: iso(3) }; }, 'red', ['journal.diskFull']],
  ['the journal cannot be written: I/O error', (d) => { d.journal.writable = false; d.journal.lastWriteError = { code: 'SG_ERR_JOURNAL_WRITE', at: iso(3) }; }, 'red', ['journal.notWritable']],
  ['the journal at 95 % of maxBytes', (d) => { d.journal.bytes = Math.ceil(d.journal.maxBytes * 0.95); }, 'red', ['journal.nearFull']],
  ['the journal at 75 % of maxBytes', (d) => { d.journal.bytes = Math.ceil(d.journal.maxBytes * 0.75); }, 'amber', ['journal.nearFull']],
  ['dead letters waiting', (d) => { d.journal.dead = 2; }, 'red', ['journal.deadLetters']],
  ['Talon.One down for 45 min with 500 sales waiting', (d) => { d.upstream.state = 'down'; d.upstream.lastOkAt = iso(45 * 60); d.journal.depth = 500; d.journal.oldestAgeSec = 2700; }, 'red', ['upstream.downLong']],
  ['Talon.One down since the start an hour ago, 200 sales waiting', (d) => { d.upstream.state = 'down'; d.upstream.lastOkAt = null; d.uptimeSec = 3600; d.journal.depth = 200; }, 'red', ['upstream.downLong']],
  ['Talon.One down for 45 min with 3 sales waiting', (d) => { d.upstream.state = 'down'; d.upstream.lastOkAt = iso(45 * 60); d.journal.depth = 3; }, 'amber', ['upstream.down']],
  ['Talon.One down for 2 min with 500 sales waiting', (d) => { d.upstream.state = 'down'; d.upstream.lastOkAt = iso(120); d.journal.depth = 500; }, 'amber', ['upstream.down']],
  ['the clock 5 s behind Talon.One', (d) => { d.clockSkewMs = 5000; }, 'red', ['clock.skew']],
  ['the clock 3 s ahead of Talon.One', (d) => { d.clockSkewMs = -3000; }, 'red', ['clock.skew']],

  ['Talon.One degraded', (d) => { d.upstream.state = 'degraded'; d.upstream.latencyMsP95 = 650; }, 'amber', ['upstream.degraded']],
  ['no upstream configured', (d) => { d.upstream = { configured: false, state: 'down', lastOkAt: null, lastError: 'no upstream configured' }; d.flush = null; }, 'amber', ['upstream.notConfigured']],
  ['Talon.One up but the oldest sale 20 min old', (d) => { d.journal.depth = 4; d.journal.oldestAgeSec = 1200; }, 'amber', ['journal.behind']],
  ['MQTT configured and disconnected', (d) => { d.mqtt = { configured: true, connected: false, since: iso(600) }; }, 'amber', ['mqtt.disconnected']],
  ['a scanner gone', (d) => { d.serial[0].open = false; d.serial[0].lastError = { code: 'DISCONNECTED', message: 'unplugged', at: iso(30) }; }, 'amber', ['serial.gone']],
  ['a running campaign not offline-capable', (d) => { d.cache.campaigns.push({ id: 2, name: 'Nested', running: true, offlineCapable: false, reason: 'evaluation mode x' }); }, 'amber', ['cache.notOfflineCapable']],
  ['no campaign rules loaded', (d) => { d.cache.campaigns = []; d.cache.rulesVersion = 0; }, 'amber', ['cache.empty']],
  ['local data 10 days old', (d) => { d.cache.updatedAt = iso(10 * 86_400); }, 'amber', ['cache.old']],
  ['a pushed config waiting for a restart', (d) => { d.config.pendingRestart = ['http.port']; }, 'amber', ['config.pendingRestart']],

  ['red and amber together: red first', (d) => { d.mqtt.connected = false; d.journal.dead = 1; d.upstream.state = 'degraded'; d.clockSkewMs = 9000; }, 'red', ['journal.deadLetters', 'clock.skew', 'upstream.degraded', 'mqtt.disconnected']],
];

describe('the verdict of a /status document', () => {
  it.each(rows)('%s', (_name, change, level, codes) => {
    const doc = healthy();
    change(doc);
    const v = judge(doc, NOW);
    expect(v.level).toBe(level);
    expect(v.reasons.map((r) => r.code)).toEqual(codes);
    for (const r of v.reasons) {
      expect(r.text.length).toBeGreaterThan(10);
      expect(r.action.length).toBeGreaterThan(10);
    }
    expect(v.headline).toBe({ green: 'All good: nothing to do', amber: 'Needs a look: tills are served', red: 'Action needed' }[level]);
  });

  it('says how long and how many in words', () => {
    const doc = healthy() as Record<string, any>;
    doc.upstream.state = 'down';
    doc.upstream.lastOkAt = iso(45 * 60);
    doc.journal.depth = 1234;
    const [r] = judge(doc, NOW).reasons;
    expect(r?.text).toBe('Talon.One has been unreachable for 45 min; 1,234 sales wait in the journal. Tills are answered offline.');
  });

  it('names the scanner and the permission problem', () => {
    const doc = healthy() as Record<string, any>;
    doc.serial[0].open = false;
    doc.serial[0].lastError = { code: 'EACCES', message: 'permission denied', at: iso(1) };
    const [r] = judge(doc, NOW).reasons;
    expect(r?.text).toBe('Scanner till-1 is not connected (permission denied).');
    expect(r?.action).toMatch(/dialout/);
  });

  it('does not judge what the document lacks, nor trip on garbage', () => {
    expect(judge({ version: '1', mode: 'offline' }, NOW)).toEqual({ level: 'green', headline: 'All good: nothing to do', reasons: [] });
    const garbage = { journal: 'x', upstream: [1], mqtt: null, serial: { id: 1 }, cache: 7, config: { pendingRestart: 'a' }, clockSkewMs: 'NaN' };
    expect(judge(garbage, NOW).level).toBe('green');
  });

  it('never puts a device path or an error message into the words', () => {
    const doc = healthy() as Record<string, any>;
    doc.serial[0].open = false;
    doc.serial[0].lastError = { code: 'ENOENT', message: 'no such file /dev/serial/by-id/secret-serial-number', at: iso(1) };
    doc.upstream.state = 'down';
    doc.upstream.lastError = 'connect ECONNREFUSED 10.1.2.3:443';
    const text = JSON.stringify(judge(doc, NOW));
    expect(text).not.toMatch(/\/dev\/|secret-serial|10\.1\.2\.3|ECONNREFUSED/);
  });
});

describe('duration', () => {
  it.each([
    [0, '0 s'],
    [59.4, '59 s'],
    [60, '1 min'],
    [3599, '59 min'],
    [3600, '1 h'],
    [3660, '1 h 1 min'],
    [47 * 3600 + 120, '47 h 2 min'],
    [3 * 86_400, '3 days'],
    [-5, '0 s'],
  ])('%s s is "%s"', (sec, text) => {
    expect(duration(sec)).toBe(text);
  });
});
