/**
 * Notifications in: persist, then process. Bad input is refused with its reason and stores nothing; an accepted
 * notification is durable before the answer; one not processed when the process died is processed at the next
 * start; the same X-UUID twice is processed once. Also the head office config: every problem with its JSON
 * path, secrets read from files and kept out of the config object.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { classify, Inbox, type InboxHandlers } from '../../src/headoffice/inbox.js';
import { validateHeadOfficeConfig } from '../../src/headoffice/config.js';
import { Fleet } from '../../src/headoffice/fleet.js';
import { Streams } from '../../src/headoffice/streams.js';
import { MemorySnapshotStore } from '../../src/state/snapshot-store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { keyPair } from '../helpers/signing.js';

const quiet = createLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));
const batch = (trigger: number, sku = 'A', version = 1) => ({ NotificationType: 'StrikethroughPrice', currentBatch: 1, totalBatches: 1, trigger: { id: trigger }, changedItems: [{ sku, version, price: 10 }] });

function recorder(block = false) {
  const seen: string[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const h: InboxHandlers = {
    prices: async (b) => {
      if (block) await gate;
      seen.push(`prices:${String((b['trigger'] as { id: number }).id)}`);
    },
    campaign: async (id, deleted) => void seen.push(`campaign:${id}${deleted ? ':deleted' : ''}`),
    tree: async () => void seen.push('tree'),
  };
  return { h, seen, release: () => release() };
}

describe('notification inbox', () => {
  it('refuses what is not a notification it handles, naming the field', () => {
    expect(() => classify('x')).toThrow(/JSON object/);
    expect(() => classify({ NotificationType: 'CouponCreated' })).toThrow(/NotificationType "CouponCreated" is not handled/);
    expect(() => classify({ NotificationType: 'StrikethroughPrice', trigger: { id: 1 } })).toThrow(/changedItems/);
    // What every shop would refuse (a negative price) is refused at the door, with the path.
    expect(() => classify({ ...batch(1), changedItems: [{ sku: 'A', version: 1, price: -1 }] })).toThrow(expect.objectContaining({ code: 'SG_ERR_DATA_INVALID', details: [expect.objectContaining({ path: '/changedItems/0/price' })] }));
    expect(() => classify({ NotificationType: 'CampaignNotification', Data: [{ Event: 'campaign_created', campaign: {} }] })).toThrow(expect.objectContaining({ code: 'SG_ERR_VALIDATION', details: [{ path: '/Data/0/campaign/id', message: expect.any(String) }] }));
    expect(classify({ NotificationType: 'CampaignNotification', data: [{ event: 'campaign_evaluation_tree_changed', evaluationTree: { set: {} } }] })).toBe('tree');
    expect(classify({ NotificationType: 'CampaignNotification', Data: [{ Event: 'campaign_deleted', campaign: { id: 4 } }] })).toBe('campaign');
  });

  it('stores before answering, processes in order, once per X-UUID, and again after a crash', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-inbox-'));
    const a = recorder(true);
    const inbox = new Inbox({ dataDir: dir, handlers: a.h, log: quiet, now: () => 1 });
    await inbox.start();
    expect((await inbox.receive('u1', batch(1))).duplicate).toBe(false);
    await inbox.receive('u2', { NotificationType: 'CampaignNotification', Data: [{ Event: 'campaign_deleted', campaign: { id: 9 } }] });
    expect((await inbox.receive('u1', batch(1))).duplicate).toBe(true);
    await expect(inbox.receive('u3', { nope: true })).rejects.toMatchObject({ code: 'SG_ERR_VALIDATION' });
    // Durable before processing: both are in the log, nothing processed yet (the first handler is blocked).
    const log = readFileSync(path.join(dir, 'state', 'inbox.log'), 'utf8');
    expect(log).toContain('"uuid":"u1"');
    expect(log).toContain('"uuid":"u2"');
    expect(log).not.toContain('u3');
    expect(a.seen).toEqual([]);
    // "Crash": a second inbox on the same dir processes both, in order; u1 seen again is a duplicate.
    const b = recorder();
    const again = new Inbox({ dataDir: dir, handlers: b.h, log: quiet, now: () => 2 });
    await again.start();
    await again.idle();
    expect(b.seen).toEqual(['prices:1', 'campaign:9:deleted']);
    expect((await again.receive('u1', batch(1))).duplicate).toBe(true);
    // Once processed and marked, a third start has nothing to do, and keeps the price book.
    const c = recorder();
    const third = new Inbox({ dataDir: dir, handlers: c.h, log: quiet, now: () => 3 });
    await third.start();
    await third.idle();
    expect(c.seen).toEqual([]);
    expect(third.priceItems().map((i) => i['sku'])).toEqual(['A']);
    a.release();
  });
});

describe('head office config', () => {
  function files() {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-hocfg-'));
    writeFileSync(path.join(dir, 'key'), 'MGMT-KEY-VALUE\n', { mode: 0o600 });
    writeFileSync(path.join(dir, 'secret'), 'notification-secret-0123456789\n', { mode: 0o600 });
    writeFileSync(path.join(dir, 'sign.pem'), keyPair().privatePem, { mode: 0o600 });
    return dir;
  }
  const base = { talon: { baseUrl: 'https://acme.europe-west1.talon.one', applicationId: 4, managementKeyFile: 'key' }, notifications: { secretFile: 'secret' }, mqtt: { url: 'mqtt://broker:1883' }, signing: { keyFile: 'sign.pem' } };

  it('reads the secrets from their files and keeps them out of the config', async () => {
    const dir = files();
    const l = await validateHeadOfficeConfig(base, dir, 'test');
    expect(l.secrets.managementKey).toBe('MGMT-KEY-VALUE');
    expect(l.secrets.notificationSecret).toBe('notification-secret-0123456789');
    expect(JSON.stringify(l.config)).not.toContain('MGMT-KEY-VALUE');
    expect(l.config).toMatchObject({ talon: { ratePerSec: 3, pageSize: 1000 }, pull: { changesEverySec: 60 }, mqtt: { topicPrefix: 'storegate', maxMessageBytes: 8388608 }, dataDir: path.join(dir, 'var-headoffice') });
  });

  it('lists every problem with its path, and refuses an open fleet view on a network address', async () => {
    const dir = files();
    const bad = { ...base, talon: { ...base.talon, ratePerSec: 5, applicationId: 'four' }, http: { host: '0.0.0.0' }, extra: 1, signing: { keyFile: 'missing.pem' } };
    const err = (await validateHeadOfficeConfig(bad, dir, 'test').catch((e: unknown) => e)) as { code: string; details: { path: string }[] };
    expect(err.code).toBe('SG_ERR_CONFIG_INVALID');
    expect(err.details.map((d) => d.path).sort()).toEqual(['/extra', '/talon/applicationId', '/talon/ratePerSec']);
    const err2 = (await validateHeadOfficeConfig({ ...base, http: { host: '0.0.0.0' }, signing: { keyFile: 'missing.pem' } }, dir, 'test').catch((e: unknown) => e)) as { details: { path: string; message: string }[] };
    expect(err2.details.map((d) => d.path).sort()).toEqual(['/http/adminToken', '/signing/keyFile']);
  });
});

describe('fleet view', () => {
  it('flags shops that lag behind or refuse pushes, and not a retained push seen again', async () => {
    let now = Date.parse('2026-06-01T00:00:00Z');
    const store = new MemorySnapshotStore();
    const streams = new Streams(store);
    streams.published('rules', 'S1', 5, 'k', 0, now);
    streams.published('rules', 'S2', 5, 'k', 0, now);
    streams.published('rules', 'S3', 5, 'k', 0, now);
    const f = new Fleet(store, () => now);
    for (const s of ['S1', 'S2', 'S3']) f.status(s, { online: true, mode: 'offline', upstream: 'up', journalDepth: 0, rulesVersion: 4 }, false);
    f.status('S1', { online: true, mode: 'offline', upstream: 'up', journalDepth: 2, rulesVersion: 5 }, false);
    f.ack('S2', 'rules', { version: 5, ok: false, code: 'SG_ERR_DATA_INVALID', error: 'bad rules' });
    f.ack('S1', 'rules', { version: 3, ok: false, code: 'SG_ERR_PUSH_STALE', error: 'not higher' });
    const view = (ms: number) => f.view({ streams, stores: ['S1', 'S2', 'S3', 'S4'], staleAfterSec: 180, lagAfterSec: 120 }).map((s) => [s.store, s.state]);
    expect(view(0)).toEqual([['S1', 'ok'], ['S2', 'refusing'], ['S3', 'syncing'], ['S4', 'unknown']]);
    now += 121_000;
    expect(view(0)).toEqual([['S1', 'ok'], ['S2', 'refusing'], ['S3', 'lagging'], ['S4', 'unknown']]);
    now += 100_000; // S1's last status is 221 s old
    expect(view(0)[0]).toEqual(['S1', 'silent']);
    f.status('S3', { online: false }, false);
    expect(view(0)[2]).toEqual(['S3', 'offline']);
  });
});
