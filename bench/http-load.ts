/**
 * The load generator's HTTP/1.1 client: one keep-alive socket per worker, each request written as one
 * pre-rendered string, the answer read just far enough to get its status and skip `Content-Length` bytes (the
 * way wrk and autocannon work). The gateway, the emulator and this process share two cores, so every
 * microsecond the load generator spends is taken from the processes under test; this costs a fraction of a
 * general-purpose client. No pipelining: one request in flight per socket, as a POS terminal does.
 */
import { connect, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';

const HEADER_END = '\r\n\r\n';

export class LoadConnection {
  readonly #socket: Socket;
  #waiting: { resolve: (status: number) => void; reject: (err: Error) => void } | null = null;
  #head = '';
  #status = 0;
  #remaining = -1;
  #lastHead = '';

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', () => this.#fail(new Error('connection closed by the server')));
  }

  static open(port: number, host = '127.0.0.1'): Promise<LoadConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host }, () => resolve(new LoadConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** The same over TLS (`tls`: ca, and cert/key for a client certificate); resolves once the handshake is done. */
  static openTls(port: number, tls: ConnectionOptions, host = '127.0.0.1'): Promise<LoadConnection> {
    return new Promise((resolve, reject) => {
      const socket = connectTls({ port, host, ...tls }, () => resolve(new LoadConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one request (`head` ends with the blank line) and resolves with the answer's HTTP status. */
  request(head: string, body: string): Promise<number> {
    if (this.#waiting) return Promise.reject(new Error('one request at a time per connection'));
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
      this.#head = '';
      this.#remaining = -1;
      this.#socket.write(head + body);
    });
  }

  close(): void {
    this.#waiting = null;
    this.#socket.destroy();
  }

  /** The last answer's status line and headers (for a caller that needs one of them, e.g. X-Storegate-Source). */
  get lastHead(): string {
    return this.#lastHead;
  }

  /** Closed by either side (e.g. the server's keep-alive timeout while idle): open a new one. */
  get closed(): boolean {
    return this.#socket.destroyed;
  }

  #onData(chunk: Buffer): void {
    if (this.#remaining < 0) {
      this.#head += chunk.toString('latin1');
      const end = this.#head.indexOf(HEADER_END);
      if (end < 0) return;
      const head = this.#head.slice(0, end);
      this.#lastHead = head;
      this.#status = Number(head.slice(9, 12));
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      // 204 and 304 answers have no body, hence no Content-Length (RFC 9110 §8.6).
      const bodyless = this.#status === 204 || this.#status === 304;
      if (!m && !bodyless) return this.#fail(new Error(`answer without Content-Length (HTTP ${this.#status})`));
      this.#remaining = (m ? Number(m[1]) : 0) - (Buffer.byteLength(this.#head, 'latin1') - end - HEADER_END.length);
    } else {
      this.#remaining -= chunk.length;
    }
    if (this.#remaining > 0) return;
    if (this.#remaining < 0) return this.#fail(new Error('more bytes than Content-Length (pipelined or malformed answer)'));
    const w = this.#waiting;
    this.#waiting = null;
    w?.resolve(this.#status);
  }

  #fail(err: Error): void {
    const w = this.#waiting;
    this.#waiting = null;
    w?.reject(err);
  }
}

/** The request head for a PUT with a JSON body (`Host`, `Content-Length`, the caller's extra header lines). */
export function putHead(path: string, host: string, headerLines: string, body: string): string {
  return `PUT ${path} HTTP/1.1\r\nhost: ${host}\r\n${headerLines}content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
}

/** A server the session-update benchmarks load: 32 keep-alive connections and the request's header lines. */
export interface SessionTarget {
  name: string;
  host: string;
  headerLines: string;
  /** Session ids are `<prefix>-<n>`. */
  sessionPrefix: string;
  /** One keep-alive connection per concurrent worker. */
  conns: LoadConnection[];
}

export async function sessionTarget(name: string, port: number, authorization: string, sessionPrefix: string): Promise<SessionTarget> {
  const conns = await Promise.all(Array.from({ length: 32 }, () => LoadConnection.open(port)));
  return { name, host: `127.0.0.1:${port}`, headerLines: `authorization: ${authorization}\r\n`, sessionPrefix, conns };
}

/** One session update (200 expected): its latency in ms. */
export async function updateSession(t: SessionTarget, conn: LoadConnection, session: number, payload: string): Promise<number> {
  const t0 = process.hrtime.bigint();
  const status = await conn.request(putHead(`/v2/customer_sessions/${t.sessionPrefix}-${session}`, t.host, t.headerLines, payload), payload);
  if (status !== 200) throw new Error(`${t.name}: HTTP ${status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Sequential updates of sessions `offset + i` (`offset + i % sessions` with `sessions`): latency samples in ms. */
export async function serialUpdates(t: SessionTarget, n: number, offset: number, payloads: readonly string[], sessions = Infinity): Promise<number[]> {
  const out: number[] = [];
  const conn = t.conns[0] as LoadConnection;
  for (let i = 0; i < n; i++) out.push(await updateSession(t, conn, offset + (i % sessions), payloads[i % payloads.length] as string));
  return out;
}

/** `concurrency` workers (one connection each) for `n` updates in all, over 2,000 sessions: time, req/s, latencies. */
export async function concurrentUpdates(t: SessionTarget, n: number, concurrency: number, offset: number, payloads: readonly string[]): Promise<{ secs: number; rps: number; lat: number[] }> {
  let next = 0;
  const lat: number[] = [];
  const t0 = process.hrtime.bigint();
  await Promise.all(
    t.conns.slice(0, concurrency).map(async (conn) => {
      while (next < n) {
        const i = next++;
        lat.push(await updateSession(t, conn, offset + (i % 2000), payloads[i % payloads.length] as string));
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { secs, rps: n / secs, lat };
}
