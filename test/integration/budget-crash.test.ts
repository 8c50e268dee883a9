/**
 * A campaign budget's store share is never exceeded offline, across `kill -9` of the daemon process (the bundle,
 * as shipped). The share comes with the rules (head office's `budgets`); each answer's consumption travels in its
 * journal record (`budgetOps`), so sales answered seconds before the kill — before any ledger snapshot — still
 * count after the restart, and a cancelled session gives its part back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { sha256Hex } from '../../src/http/auth.js';
import { buildBundle, freePort, spawnGateway, waitReady } from '../helpers/procs.js';
import { ADMIN_TOKEN, TERMINAL_TOKENS } from '../helpers/gateway.js';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
});

describe('campaign budget share across kill -9', () => {
  it('is never exceeded, and a cancel gives its part back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sg-budgetcrash-'));
    const bundle = buildBundle(path.join(dir, 'storegate.mjs'));
    const port = await freePort();
    // Campaign 701: 10 EUR off every basket; a campaign-wide budget of 1,000 EUR of which this store may spend 25 offline.
    const rules = {
      version: 1, application: { currency: 'EUR', timezone: 'UTC' }, evaluationTree: null, stores: [{ id: 42, integrationId: 'store-042' }],
      campaigns: [{
        campaign: { id: 701, name: 'Ten off', state: 'enabled', limits: [{ action: 'setDiscount', limit: 1000, entities: [] }] },
        ruleset: { id: 7010, promotionRules: [{ title: 'Ten off', blocks: [{ type: 'awardDiscount', name: 'Ten off', value: 10, target: { type: 'cart' }, partial: false }] }] },
      }],
      budgets: { readAt: Date.now() - 60_000, shares: [{ campaignId: 701, action: 'setDiscount', share: 25 }] },
    };
    writeFileSync(path.join(dir, 'rules.json'), JSON.stringify(rules));
    const file = path.join(dir, 'config.json');
    writeFileSync(file, JSON.stringify({
      mode: 'offline', store: { integrationId: 'store-042' }, dataDir: path.join(dir, 'var'), http: { host: '127.0.0.1', port }, adminToken: ADMIN_TOKEN,
      terminals: [{ id: 'T1', tokenSha256: sha256Hex(TERMINAL_TOKENS.T1) }], dataFiles: { rules: path.join(dir, 'rules.json') }, log: { level: 'warn' },
    }));
    const base = `http://127.0.0.1:${port}`;
    const sell = async (id: string, state = 'open'): Promise<number> => {
      const res = await fetch(`${base}/v2/customer_sessions/${id}`, {
        method: 'PUT',
        headers: { authorization: `ApiKey-v1 ${TERMINAL_TOKENS.T1}`, 'content-type': 'application/json' },
        body: JSON.stringify({ customerSession: { state, cartItems: [{ sku: 'A', quantity: 1, price: 40 }] } }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { effects: { effectType: string; props: { value: number } }[] };
      return body.effects.filter((e) => e.effectType === 'setDiscount').reduce((a, e) => a + e.props.value, 0);
    };
    const start = async () => {
      const child = spawnGateway(bundle, file);
      children.push(child);
      await waitReady(child, port);
      return child;
    };
    const kill = async (child: ChildProcess) => {
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
    };

    let child = await start();
    expect(await sell('B-1', 'closed')).toBe(10);
    expect(await sell('B-2')).toBe(10);
    // Killed at once: the ledger snapshot is saved every 5 s, so only the journal knows these two answers.
    await kill(child);
    child = await start();
    expect(await sell('B-3')).toBe(0); // 5 EUR left of 25
    expect(await sell('B-2')).toBe(10); // its own 10 still counts for itself
    await kill(child);
    child = await start();
    expect(await sell('B-4')).toBe(0);
    expect(await sell('B-2', 'cancelled')).toBe(0); // gives its 10 back
    await kill(child);
    child = await start();
    expect(await sell('B-5')).toBe(10);
    expect(await sell('B-6')).toBe(0);
    await kill(child);
  });
});
