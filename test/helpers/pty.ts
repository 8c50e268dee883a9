import { spawn, type ChildProcess } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import { SerialPort } from 'serialport';

/**
 * A pair of real pseudo-terminals joined by socat, standing in for a USB-serial scanner: the gateway opens
 * `device` (as it would /dev/serial/by-id/…), the test is the scanner on `scanner` (writes codes, reads what the
 * gateway writes back). `unplug()` kills socat (SIGKILL: the links stay behind, pointing at nothing, as a
 * by-id link of a pulled adapter vanishes); `plug()` starts it again on the same link names.
 */
export class PtyPair {
  readonly device: string;
  readonly scanner: string;
  #proc: ChildProcess | null = null;
  #port: SerialPort | null = null;
  /** Everything the gateway wrote to the device, as text. */
  received = '';

  constructor(dir: string, name: string) {
    this.device = path.join(dir, `${name}-dev`);
    this.scanner = path.join(dir, `${name}-scan`);
  }

  async plug(): Promise<this> {
    const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.device}`, `pty,raw,echo=0,link=${this.scanner}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.#proc = proc;
    // socat names the ptys it made ("PTY is /dev/pts/N", device side first): ready once both links point at them
    // (after an unplug the old links are still there, and a pts number may be reused).
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const end = Date.now() + 5000;
    for (;;) {
      const ptys = [...log.matchAll(/PTY is (\S+)/g)].map((m) => m[1]);
      if (ptys.length >= 2 && this.#target(this.device) === ptys[0] && this.#target(this.scanner) === ptys[1]) break;
      if (Date.now() > end || proc.exitCode !== null) throw new Error(`socat did not create ${this.device}: ${log}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    this.#port = new SerialPort({ path: this.scanner, baudRate: 9600, autoOpen: false });
    this.#port.on('data', (d: Buffer) => (this.received += d.toString('latin1')));
    this.#port.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => this.#port?.open((e) => (e ? reject(e) : resolve())));
    return this;
  }

  /** The scanner sends these bytes (one write: the tty may still deliver them in several reads). */
  async write(data: string | Buffer): Promise<void> {
    const port = this.#port;
    if (!port) throw new Error('not plugged');
    await new Promise<void>((resolve, reject) => port.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, (e) => (e ? reject(e) : resolve())));
    await new Promise<void>((resolve, reject) => port.drain((e) => (e ? reject(e) : resolve())));
  }

  async unplug(): Promise<void> {
    const port = this.#port;
    this.#port = null;
    if (port?.isOpen) await new Promise<void>((r) => port.close(() => r()));
    const p = this.#proc;
    this.#proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  #target(link: string): string | null {
    try {
      return realpathSync(link);
    } catch {
      return null;
    }
  }
}
