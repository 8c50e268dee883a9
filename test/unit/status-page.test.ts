/**
 * The public part of the status page, without a browser: the summary is chosen field by field (whatever the
 * `/status` document holds, no error text, path, address or name of a terminal or campaign gets out), the HTML
 * is phone-ready and cannot be broken out of by a value, and the page script parses.
 */
import { describe, expect, it } from 'vitest';
import { publicSummary } from '../../src/status/summary.js';
import { judge } from '../../src/status/verdict.js';
import { renderStatusPage } from '../../src/http/status-page.js';
import { STATUS_SCRIPT } from '../../src/http/status-ui.js';

const NOW = Date.parse('2026-12-07T12:00:00Z');
const SECRET = 'SECRET-0123456789';
const history = { intervalSec: 30, points: [{ at: NOW, upstreamP50Ms: 12, journalDepth: 3, local: 2, upstream: 5, gateway: 0 }] };

/** A `/status` document with a secret-looking marker in every string a section can carry, and extra keys. */
function poisoned(): Record<string, unknown> {
  return {
    version: '0.1.0',
    mode: 'connected',
    store: 'store-042',
    uptimeSec: 100,
    adminToken: SECRET,
    upstream: { configured: true, state: 'up', lastOkAt: '2026-12-07T11:59:59.000Z', latencyMsP50: 12, latencyMsP95: 40, lastError: `connect ECONNREFUSED 10.9.9.9:443 ${SECRET}`, baseUrl: `https://acme.talon.one/${SECRET}`, apiKey: SECRET },
    journal: { depth: 3, bytes: 1000, maxBytes: 10_000, oldestAgeSec: 4.4, dead: 1, segments: 1, lastSeq: 9, diskReserve: true, writable: true, lastWriteError: { code: 'SG_ERR_DISK_FULL', at: SECRET }, dir: `/var/lib/${SECRET}` },
    flush: { inFlight: 0, delivered: 1, deadLettered: 1, retrying: 0, lastError: `upstream answered 400 ${SECRET}`, lastFlushAt: null, queued: 0, paused: false },
    cache: {
      rulesVersion: 1,
      pricesVersion: 2,
      couponsVersion: 3,
      loyaltyVersion: 4,
      updatedAt: '2026-12-07T11:00:00.000Z',
      pricedSkus: 10,
      coupons: 5,
      campaigns: [
        { id: 1, name: `Campaign ${SECRET}`, running: true, offlineCapable: false, reason: `rule ${SECRET}` },
        { id: 2, name: 'B', running: false, offlineCapable: false, reason: null },
        { id: 3, name: 'C', running: true, offlineCapable: true, reason: null },
      ],
    },
    reconciliation: 2,
    config: { version: 4, pendingRestart: [`http.port ${SECRET}`] },
    mqtt: { configured: true, connected: false, since: null, reconnects: 3, queued: 1, dropped: {}, protocolVersion: 5, broker: `mqtt://${SECRET}@broker:1883`, lastError: `not authorized ${SECRET}` },
    pushes: { rules: { version: 1, ok: false, error: SECRET, code: 'SG_ERR_PUSH_SIGNATURE', via: 'mqtt', at: 'x' } },
    alerts: { deadLetter: 1 },
    serial: [{ id: 'till-1', path: `/dev/serial/by-id/${SECRET}`, role: 'terminal', terminalId: `T-${SECRET}`, open: false, since: null, lastScanAt: null, scans: 0, dropped: {}, reopenCount: 0, lastError: { code: 'EACCES', message: `permission denied ${SECRET}`, at: 'x' } }],
    clockSkewMs: 0,
    terminals: [{ id: `T-${SECRET}`, lastSeenAt: '2026-12-07T11:59:00.000Z', requests: 7 }, { id: 'T2', lastSeenAt: null, requests: 0 }],
    process: { rssMb: 50 },
  };
}

describe('the public summary', () => {
  it('carries the figures and none of the texts', () => {
    const doc = poisoned();
    const s = publicSummary(doc, judge(doc, NOW), history, NOW);
    expect(JSON.stringify(s)).not.toContain(SECRET);
    expect(JSON.stringify(s)).not.toMatch(/10\.9\.9\.9|\/dev\/|broker:1883|acme/);
    expect(s).toMatchObject({
      store: 'store-042',
      mode: 'connected',
      upstream: { configured: true, state: 'up', latencyMsP50: 12, latencyMsP95: 40 },
      journal: { depth: 3, oldestAgeSec: 4, bytes: 1000, maxBytes: 10_000, usedPct: 10, dead: 1, writable: true },
      reconciliation: 2,
      cache: { rulesVersion: 1, campaigns: 3, running: 2, notOfflineCapable: 1, pricedSkus: 10, coupons: 5 },
      terminals: { configured: 2, seen: 1, requests: 7, lastSeenAt: '2026-12-07T11:59:00.000Z' },
      scanners: [{ id: 'till-1', role: 'terminal', open: false, errorCode: 'EACCES' }],
      mqtt: { configured: true, connected: false, reconnects: 3, queued: 1 },
      pendingRestart: 1,
      history,
    });
    expect(s.verdict.level).toBe('red'); // a dead letter
  });

  it('passes an error code only when it is a code, never a sentence', () => {
    const doc = poisoned();
    (doc.serial as Record<string, unknown>[])[0]!.lastError = { code: 'see /etc/storegate/api-key', message: 'x', at: 'x' };
    expect(publicSummary(doc, judge(doc, NOW), history, NOW).scanners[0]!.errorCode).toBeNull();
  });
});

describe('the page', () => {
  const doc = poisoned();
  const summary = publicSummary(doc, judge(doc, NOW), history, NOW);

  it('is phone-ready: viewport tag, its own script and style, no inline script but the data block', () => {
    const html = renderStatusPage(summary, '0.1.0');
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<script src="/ui/status.js?v=0.1.0" defer></script>');
    expect(html).toContain('<link rel="stylesheet" href="/ui/status.css?v=0.1.0">');
    // Every inline <script> is a JSON data block (the CSP runs only /ui/status.js).
    const inline = [...html.matchAll(/<script(?![^>]*\bsrc=)([^>]*)>/g)].map((m) => m[1]);
    expect(inline).toEqual([' type="application/json" id="initial"']);
    expect(html).not.toMatch(/ style=|<style|on(click|load|submit)=/);
    // The token field is never a form field that could be submitted (it has no name).
    expect(html).toMatch(/<input id="token" type="password"/);
    expect(html).not.toMatch(/<input[^>]*\bname=/);
    // The verdict is in the HTML itself, readable before the script runs.
    expect(html).toContain('data-level="red"');
    expect(html).toContain('Action needed');
  });

  it('cannot be broken out of by a value', () => {
    const evil = { ...summary, store: '</script><script>alert(1)</script><!--' };
    evil.verdict = { ...summary.verdict, reasons: [{ level: 'amber', code: 'x', text: '<img src=x onerror=alert(1)>', action: '"><b>' }] };
    const html = renderStatusPage(evil, '"><x');
    expect(html).not.toContain('<script>alert(1)');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('"><x');
    expect(html.match(/<\/script>/g)).toHaveLength(2); // the page script's tag and the data block's, nothing more
    const data = html.match(/<script type="application\/json" id="initial">([^]*?)<\/script>/)?.[1] ?? '';
    expect(JSON.parse(data).store).toBe(evil.store);
  });

  it('has a script that parses and declares nothing global', () => {
    expect(() => new Function(STATUS_SCRIPT)).not.toThrow();
    expect(STATUS_SCRIPT.startsWith('(function () {\n\'use strict\';')).toBe(true);
    expect(STATUS_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|localStorage|document\.cookie/);
  });
});
