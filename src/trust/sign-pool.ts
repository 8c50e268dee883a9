/**
 * Head office's signing on worker threads. An Ed25519 signature reads its whole message twice (SHA-512), so a
 * 400 KB rules push costs ~1-2 ms, and one changed chain campaign means 500 of them: most of head office's CPU
 * for that change. Workers sign side by side while the main thread keeps publishing (the benchmark's profile:
 * `signOneShot` was the largest item). Same output as {@link PushSigner}: the JWS compact serialization as bytes.
 *
 * A payload is given as base64url parts (see PushSigner); a part many pushes share (the campaigns before a shop's
 * own Store) is sent to each worker once (`share`), and each push names it by id. The workers run inline code
 * (no file beside the bundle or the single binary) and hold the private key for their lifetime.
 */
import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { PushSigner } from './sign.js';

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createPrivateKey, sign } = require('node:crypto');
const key = createPrivateKey(workerData.pem);
const head = workerData.head;
const shared = new Map();
parentPort.on('message', (m) => {
  if (m.share !== undefined) { shared.set(m.share, m.text); return; }
  if (m.forget !== undefined) { shared.delete(m.forget); return; }
  const parts = m.parts.map((p) => (typeof p === 'number' ? shared.get(p) : p));
  let n = head.length;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafeSlow(n + 87);
  let at = out.write(head, 0, 'latin1');
  for (const p of parts) at += out.write(p, at, 'latin1');
  const sig = sign(null, out.subarray(0, n), key);
  at += out.write('.', at, 'latin1');
  at += out.write(sig.toString('base64url'), at, 'latin1');
  parentPort.postMessage({ id: m.id, buf: out.buffer, len: at }, [out.buffer]);
});
`;

interface Slot {
  worker: Worker;
  busy: number;
  waiting: Map<number, { resolve: (b: Buffer) => void; reject: (e: Error) => void }>;
}

export class PushSignerPool {
  readonly #slots: Slot[] = [];
  readonly #inline: PushSigner;
  #next = 1;
  #shares = new Map<number, string>();
  #closed = false;

  /** `threads` 0: every signature on the calling thread. */
  constructor(privateKey: KeyObject, threads: number) {
    this.#inline = new PushSigner(privateKey);
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    for (let i = 0; i < threads; i++) {
      const worker = new Worker(WORKER_CODE, { eval: true, workerData: { pem, head: this.#inline.head } });
      worker.unref();
      const slot: Slot = { worker, busy: 0, waiting: new Map() };
      worker.on('message', (m: { id: number; buf: ArrayBuffer; len: number }) => {
        const w = slot.waiting.get(m.id);
        slot.waiting.delete(m.id);
        slot.busy--;
        w?.resolve(Buffer.from(m.buf, 0, m.len));
      });
      worker.on('error', (err) => {
        for (const w of slot.waiting.values()) w.reject(err);
        slot.waiting.clear();
        slot.busy = 0;
        this.#slots.splice(this.#slots.indexOf(slot), 1); // the rest sign without it
      });
      this.#slots.push(slot);
    }
  }

  /** Registers a part many payloads share; returns its id, to be given in `sign` in place of the text. */
  share(text: string): number {
    const id = this.#next++;
    this.#shares.set(id, text);
    for (const s of this.#slots) s.worker.postMessage({ share: id, text });
    return id;
  }

  forget(id: number): void {
    this.#shares.delete(id);
    for (const s of this.#slots) s.worker.postMessage({ forget: id });
  }

  sign(parts: readonly (string | number)[]): Promise<Buffer> {
    const slot = this.#slots.reduce<Slot | undefined>((a, s) => (a === undefined || s.busy < a.busy ? s : a), undefined);
    if (!slot || this.#closed) return Promise.resolve(this.#inline.sign(parts.map((p) => (typeof p === 'number' ? (this.#shares.get(p) as string) : p))));
    const id = this.#next++;
    slot.busy++;
    return new Promise((resolve, reject) => {
      slot.waiting.set(id, { resolve, reject });
      slot.worker.postMessage({ id, parts });
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#slots.map((s) => s.worker.terminate()));
    this.#slots.length = 0;
  }
}
