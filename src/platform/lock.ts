/**
 * One daemon per data dir. Two daemons on one journal would each run recovery (the second could cut the tail
 * the first is writing) and each flush the same records. The lock must die with its holder, or a `kill -9`
 * would leave a stale lock file that a technician has to find and delete.
 *
 * Linux gives such a lock without native code: a Unix socket in the *abstract* namespace (its name starts with
 * a NUL byte; unix(7)). It exists only while the process that bound it holds the descriptor: the kernel
 * removes it when that process exits, however it exits. The name is derived from the data dir's real path, so
 * every spelling of the same folder maps to one lock. The holder answers a connection with its pid, so the
 * refusal can name it. (Abstract names are per network namespace: two daemons in different namespaces on one
 * folder are not caught; a systemd unit runs in the host's.)
 */
import { createHash } from 'node:crypto';
import { mkdir, realpath } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import { StoregateError } from '../core/errors.js';

export interface LockHolder {
  pid: number;
  startedAt: string;
}

export class DataDirLock {
  readonly #server: Server;
  readonly dir: string;

  private constructor(server: Server, dir: string) {
    this.#server = server;
    this.dir = dir;
  }

  /** Takes the lock for `dataDir` (created if missing), or throws `SG_ERR_DATADIR_LOCKED` naming the holder. */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    await mkdir(dataDir, { recursive: true });
    const dir = await realpath(dataDir);
    const name = `\0storegate-datadir-${createHash('sha256').update(dir).digest('hex').slice(0, 40)}`;
    const me: LockHolder = { pid: process.pid, startedAt: new Date().toISOString() };
    const server = createServer((sock) => {
      sock.on('error', () => undefined);
      sock.end(`${JSON.stringify(me)}\n`);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(name, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      const holder = await askHolder(name);
      throw new StoregateError(
        'SG_ERR_DATADIR_LOCKED',
        `data dir ${dir} is in use by another storegate (pid ${holder?.pid ?? 'unknown'}${holder ? `, started ${holder.startedAt}` : ''}); stop it first or give this one another dataDir`,
        { statusCode: 500, details: [{ path: '/dataDir', message: `locked by pid ${holder?.pid ?? 'unknown'}` }] },
      );
    }
    server.unref(); // the lock never keeps the process alive
    return new DataDirLock(server, dir);
  }

  release(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

function askHolder(name: string): Promise<LockHolder | null> {
  return new Promise((resolve) => {
    const sock = connect(name);
    let text = '';
    const done = (v: LockHolder | null) => {
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), 1000);
    sock.on('data', (d: Buffer) => (text += d.toString()));
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        done(JSON.parse(text) as LockHolder);
      } catch {
        done(null);
      }
    });
    sock.on('error', () => {
      clearTimeout(timer);
      done(null);
    });
  });
}
