/**
 * The emulator's Management API, as head office's tests rely on it: `ManagementKey-v1` auth, Talon.One's list
 * shapes and paging, CSV exports, the audit log, 3 requests/s per endpoint with 429 + Retry-After past it and
 * counters that see it, and notifications sent to a URL.
 */
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../scripts/talon-emulator/server.js';

const KEY = 'mk-0123456789';
let emu: Emulator;

const get = (path: string, key = KEY) => fetch(`${emu.url}${path}`, { headers: { authorization: `ManagementKey-v1 ${key}` } });

beforeAll(async () => {
  emu = await startEmulator({ apiKey: 'ik', managementKey: KEY });
  emu.management.generate({ stores: 4, campaigns: 6, coupons: 25, balances: 5, couponCampaigns: 1, storeSpecificEvery: 3 });
});

afterAll(async () => {
  await emu.close();
});

describe('emulated Management API', () => {
  it('needs the management key (the Integration API key is not one)', async () => {
    expect((await get('/v1/applications/1', 'wrong')).status).toBe(401);
    const r = await fetch(`${emu.url}/v1/applications/1`, { headers: { authorization: 'ApiKey-v1 ik' } });
    expect(r.status).toBe(401);
    expect((await get('/v1/applications/1')).status).toBe(200);
  });

  it('lists with Talon.One paging, filters campaigns by state and store, exports balances as CSV', async () => {
    const all = (await (await get('/v1/applications/1/campaigns?campaignState=running&pageSize=4')).json()) as { totalResultSize: number; data: { id: number; frontendState: string }[] };
    expect(all.totalResultSize).toBe(6);
    expect(all.data).toHaveLength(4);
    expect(all.data[0]?.frontendState).toBe('running');
    const linked = (await (await get('/v1/applications/1/campaigns?storeId=1000')).json()) as { data: { linkedStoreIds: number[] }[] };
    expect(linked.data.every((c) => c.linkedStoreIds.includes(1000))).toBe(true);
    const page = (await (await get('/v1/applications/1/campaigns/10000/coupons/no_total?pageSize=10&skip=20')).json()) as { hasMore: boolean; data: unknown[] };
    expect(page).toMatchObject({ hasMore: false });
    expect(page.data).toHaveLength(5);
    const csv = await (await get('/v1/loyalty_programs/1/export_customer_balances')).text();
    expect(csv.split('\n')[0]).toBe('loyaltyProgramID,loyaltySubledger,profileIntegrationID,currentBalance,pendingBalance,expiredBalance,spentBalance,currentTier');
    expect(csv.trim().split('\n')).toHaveLength(6);
    expect((await get('/v2/applications/1/campaigns/10000/rulesets/999')).status).toBe(404);
  });

  it('answers 429 with Retry-After past 3 requests per second per endpoint, and counts what the client did', async () => {
    emu.management.resetRateLimit();
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const r = await get('/v1/applications/1/stores');
      statuses.push(r.status);
      if (r.status === 429) retryAfter = r.headers.get('retry-after');
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Another endpoint has its own budget.
    expect((await get('/v1/loyalty_programs')).status).toBe(200);
    const c = emu.management.rateLimit()['GET /v1/applications/{applicationId}/stores'];
    expect(c).toMatchObject({ requests: 5, accepted: 3, rejected: 2, maxPerSecond: 5, retryAfterIgnored: 1 });
  });

  it('logs a created campaign in the audit log and notifies the registered URL with X-UUID', async () => {
    const got: { uuid: string | undefined; body: Record<string, unknown> }[] = [];
    const srv = createServer((req: IncomingMessage, res) => {
      let b = '';
      req.on('data', (d: Buffer) => (b += d.toString()));
      req.on('end', () => {
        got.push({ uuid: req.headers['x-uuid'] as string | undefined, body: JSON.parse(b) as Record<string, unknown> });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    emu.management.setNotificationTargets([{ url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/n`, headers: { 'x-secret': 's' } }]);
    const c = emu.management.createCampaign({ name: 'New' }, { promotionRules: [] });
    await new Promise((r) => setTimeout(r, 200));
    expect(got.find((g) => (g.body['Data'] as { Event: string }[])[0]?.Event === 'campaign_created')?.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(got.some((g) => ((g.body['Data'] as { evaluationTree?: unknown }[])[0]?.evaluationTree) !== undefined)).toBe(true);
    await new Promise((r) => setTimeout(r, 1100));
    const changes = (await (await get('/v1/changes?applicationId=1&createdAfter=2020-01-01T00:00:00Z')).json()) as { data: { entity: string }[] };
    expect(changes.data.map((d) => d.entity)).toContain(`/v1/applications/1/campaigns/${String(c['id'])}`);
    srv.close();
  });
});
