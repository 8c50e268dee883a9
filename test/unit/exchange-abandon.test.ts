/**
 * src/upstream/exchange.ts at its deadline, over real loopback HTTP with undici's Pool: a request already out
 * is either aborted (its socket destroyed) or, with `onAbandoned`, left to finish and followed to its end —
 * answered, or failed when the connection goes; a request still queued in the pool is never sent.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Pool } from '../../src/upstream/undici-parts.js';
import { exchange, type AbandonedEnd, type AbandonedExchange, type DeadlineSignal } from '../../src/upstream/exchange.js';

/** What the server saw of each request: arrival, and whether its connection closed before it was answered. */
interface Seen { path: string; res: ServerResponse; closedEarly: boolean }
let server: Server;
let origin: string;
let seen: Seen[] = [];
let hold: (path: string) => 'answer' | 'hold' | 'destroy' = () => 'answer';

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const s: Seen = { path: req.url ?? '', res, closedEarly: false };
      seen.push(s);
      res.on('close', () => {
        if (!res.writableEnded) s.closedEarly = true;
      });
      const what = hold(s.path);
      if (what === 'answer') res.end('{"ok":true}');
      if (what === 'destroy') req.socket.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  seen = [];
  hold = () => 'answer';
});

class TestDeadline extends EventEmitter implements DeadlineSignal {
  aborted = false;
  reason: unknown = undefined;
  constructor(ms: number) {
    super();
    setTimeout(() => {
      this.aborted = true;
      this.reason = new DOMException('deadline passed', 'TimeoutError');
      this.emit('abort');
    }, ms).unref();
  }
}

const until = async (cond: () => boolean, ms = 3000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};
const put = (path: string) => ({ method: 'PUT' as const, path, headers: { 'content-type': 'application/json' }, body: '{"a":1}' });

describe('exchange at its deadline', () => {
  it('without onAbandoned: rejects and aborts the request (its connection closes)', async () => {
    const pool = new Pool(origin, { connections: 1 });
    try {
      hold = () => 'hold';
      await expect(exchange(pool, put('/a'), new TestDeadline(80))).rejects.toMatchObject({ name: 'TimeoutError' });
      await until(() => seen[0]?.closedEarly === true);
    } finally {
      await pool.destroy();
    }
  });

  it('with onAbandoned: rejects at the deadline, keeps the request open, and reports when it is answered', async () => {
    const pool = new Pool(origin, { connections: 1 });
    try {
      hold = () => 'hold';
      const abandoned: AbandonedExchange[] = [];
      const t0 = Date.now();
      await expect(exchange(pool, put('/b'), new TestDeadline(80), (a) => abandoned.push(a))).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(Date.now() - t0).toBeLessThan(400);
      expect(abandoned).toHaveLength(1);
      let end: AbandonedEnd | undefined;
      void abandoned[0]!.finished.then((e) => (end = e));
      await new Promise((r) => setTimeout(r, 150));
      expect(end).toBeUndefined();
      expect(seen[0]!.closedEarly).toBe(false); // still open: the upstream can still answer it
      seen[0]!.res.writeHead(201).end('{"late":true}');
      await until(() => end !== undefined);
      expect(end).toEqual({ how: 'answered', status: 201 });
      // The connection is reused afterwards.
      hold = () => 'answer';
      await expect(exchange(pool, put('/b2'), new TestDeadline(1000))).resolves.toMatchObject({ status: 200 });
    } finally {
      await pool.destroy();
    }
  });

  it('with onAbandoned: reports failed when the connection goes, or when given up with abort()', async () => {
    const pool = new Pool(origin, { connections: 2 });
    try {
      hold = () => 'hold';
      const abandoned: AbandonedExchange[] = [];
      await expect(exchange(pool, put('/c1'), new TestDeadline(60), (a) => abandoned.push(a))).rejects.toBeDefined();
      await expect(exchange(pool, put('/c2'), new TestDeadline(60), (a) => abandoned.push(a))).rejects.toBeDefined();
      expect(abandoned).toHaveLength(2);
      seen.find((s) => s.path === '/c1')!.res.socket!.destroy();
      expect(await abandoned[0]!.finished).toMatchObject({ how: 'failed' });
      abandoned[1]!.abort(new Error('cap'));
      expect(await abandoned[1]!.finished).toMatchObject({ how: 'failed', error: { message: 'cap' } });
      await until(() => seen.find((s) => s.path === '/c2')?.closedEarly === true);
    } finally {
      await pool.destroy();
    }
  });

  it('never sends a request still queued in the pool when its deadline passes, and does not hand it over', async () => {
    const pool = new Pool(origin, { connections: 1 });
    try {
      hold = (p) => (p === '/busy' ? 'hold' : 'answer');
      const abandoned: AbandonedExchange[] = [];
      const busy = exchange(pool, put('/busy'), new TestDeadline(5000));
      await until(() => seen.length === 1);
      await expect(exchange(pool, put('/queued'), new TestDeadline(60), (a) => abandoned.push(a))).rejects.toMatchObject({ name: 'TimeoutError' });
      expect(abandoned).toEqual([]);
      seen[0]!.res.end('{}');
      await expect(busy).resolves.toMatchObject({ status: 200 });
      await expect(exchange(pool, put('/after'), new TestDeadline(1000))).resolves.toMatchObject({ status: 200 });
      expect(seen.map((s) => s.path)).toEqual(['/busy', '/after']);
    } finally {
      await pool.destroy();
    }
  });
});
