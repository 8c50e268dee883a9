import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './procs.js';

/**
 * A real mosquitto on a random loopback port, owned by the test (the machine's own broker on 1883 is never
 * used). `kill()` is SIGKILL (a crash); `start()` again brings it back on the same port.
 */
export class Mosquitto {
  port = 0;
  #proc: ChildProcess | null = null;
  #conf = '';

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    if (this.port === 0) {
      this.port = await freePort();
      const dir = mkdtempSync(path.join(tmpdir(), 'sg-mosq-'));
      this.#conf = path.join(dir, 'mosquitto.conf');
      writeFileSync(this.#conf, `listener ${this.port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 10000\nset_tcp_nodelay true\n`);
    }
    this.#proc = spawn('mosquitto', ['-c', this.#conf], { stdio: 'ignore' });
    const end = Date.now() + 5000;
    while (!(await accepts(this.port))) {
      if (Date.now() > end) throw new Error(`mosquitto did not start on ${this.port}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this;
  }

  /** SIGKILL: no clean shutdown, like a crashed or power-cycled broker. */
  async kill(): Promise<void> {
    const p = this.#proc;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
    this.#proc = null;
  }

  async stop(): Promise<void> {
    await this.kill();
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
