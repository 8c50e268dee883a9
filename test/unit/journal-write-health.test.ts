/**
 * `Journal.writeHealth()`, which turns the status page red: not writable from a failed append until one succeeds,
 * with the failure's code (a full disk is told apart from an I/O error), and for good once the journal is broken.
 * Faults are injected at the journal's file port, so this runs anywhere (the real full disk is in
 * test/integration/status-page.test.ts, where a tmpfs can be mounted).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../src/journal/index.js';
import { ManualClock } from '../../src/platform/clock.js';
import { faultyOps, tempDir } from '../helpers/journal-fixtures.js';

let dir: string;
let cleanup: () => Promise<void>;
const clock = new ManualClock(Date.parse('2026-12-07T12:00:00Z'));

beforeEach(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterEach(async () => {
  await cleanup();
});

describe('Journal.writeHealth', () => {
  it('is writable until an append fails, says why, and is writable again after the next good append', async () => {
    const { ops, plan } = faultyOps();
    const j = await Journal.open({ dir, maxBytes: 1 << 26, clock, fileOps: ops, preallocate: false });
    expect(j.writeHealth()).toEqual({ writable: true, lastFailure: null });
    await j.append({ key: 'k', kind: 'x', payload: 1 });
    Object.assign(plan, { failWrites: 1, code: 'ENOSPC' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 2 })).rejects.toMatchObject({ code: 'SG_ERR_DISK_FULL' });
    expect(j.writeHealth()).toEqual({ writable: false, lastFailure: { code: 'SG_ERR_DISK_FULL', at: clock.now() } });
    clock.advance(1000);
    Object.assign(plan, { failSyncs: 1, code: 'EIO' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 3 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    expect(j.writeHealth()).toEqual({ writable: false, lastFailure: { code: 'SG_ERR_JOURNAL_WRITE', at: clock.now() } });
    await j.append({ key: 'k', kind: 'x', payload: 4 });
    expect(j.writeHealth()).toEqual({ writable: true, lastFailure: null });
    await j.close();
  });

  it('a full journal (maxBytes) is not a write failure: the page judges it by its bytes', async () => {
    const j = await Journal.open({ dir, maxBytes: 1 << 20, clock, preallocate: false });
    await expect(j.append({ key: 'k', kind: 'x', payload: 'x'.repeat(2 << 20) })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_FULL' });
    expect(j.writeHealth().writable).toBe(true);
    await j.close();
  });

  it('stays not writable once broken (a failed write that could not be cut back)', async () => {
    const { ops, plan } = faultyOps();
    const j = await Journal.open({ dir, maxBytes: 1 << 26, clock, fileOps: ops, preallocate: false });
    await j.append({ key: 'k', kind: 'x', payload: 1 });
    Object.assign(plan, { failWrites: 1, failTruncates: 1, code: 'EIO' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 2 })).rejects.toMatchObject({ code: 'SG_ERR_JOURNAL_WRITE' });
    await expect(j.append({ key: 'k', kind: 'x', payload: 3 })).rejects.toThrow(/unusable until restart/);
    expect(j.writeHealth()).toMatchObject({ writable: false, lastFailure: { code: 'SG_ERR_JOURNAL_WRITE' } });
    await j.close().catch(() => undefined);
  });
});
