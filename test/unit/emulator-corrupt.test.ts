/** The emulator's `corrupt` fault (scripts/talon-emulator/README.md): spoiled 2xx answers for answer checks. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../../scripts/talon-emulator/server.js';
import type { Emulator } from '../../scripts/talon-emulator/types.js';
import { parseFaults } from '../../scripts/talon-emulator/faults.js';

const KEY = 'corrupt-key';
let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ apiKey: KEY, port: 0 });
});
afterAll(async () => emu?.close());

const put = async (id: string, key?: string) => {
  const res = await fetch(`${emu.url}/v2/customer_sessions/${id}`, {
    method: 'PUT',
    headers: { authorization: `ApiKey-v1 ${KEY}`, 'content-type': 'application/json', ...(key ? { 'idempotency-key': key } : {}) },
    body: JSON.stringify({ customerSession: { cartItems: [{ sku: 'SKU-COFFEE', name: 'c', quantity: 1, price: 10, category: 'Drinks' }] } }),
  });
  return res.text();
};

describe('emulator corrupt fault', () => {
  it('refuses unknown modes', () => {
    expect(() => parseFaults({ corrupt: 'sometimes' })).toThrow();
    expect(parseFaults({ corrupt: 'notJson', corruptNext: 2 })).toEqual({ corrupt: 'notJson', corruptNext: 2 });
  });

  it('spoils the next N answers only, after storing the sound one for its Idempotency-Key', async () => {
    await emu.setFaults({ corrupt: 'badPosition', corruptNext: 1 });
    const spoiled = JSON.parse(await put('X1', 'k1')) as { effects: { effectType: string; props: { position?: number } }[] };
    expect(spoiled.effects.find((e) => e.effectType === 'setDiscountPerItem')?.props.position).toBe(9999);
    const replay = JSON.parse(await put('X1', 'k1')) as typeof spoiled;
    expect(replay.effects.find((e) => e.effectType === 'setDiscountPerItem')?.props.position).toBe(0);
    expect(emu.getFaults().corrupt).toBeUndefined();
    await emu.setFaults({ corrupt: 'notJson' });
    expect(await put('X2')).toMatch(/^<html>/);
    expect(await put('X3')).toMatch(/^<html>/);
    await emu.setFaults({});
  });
});
