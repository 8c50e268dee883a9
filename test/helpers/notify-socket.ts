/**
 * A stand-in for systemd's notification socket (`$NOTIFY_SOCKET`): an AF_UNIX datagram socket that records
 * every message with the time it arrived. Node.js cannot receive AF_UNIX datagrams, so a few lines of Perl
 * (perl-base is part of every Debian) do the receiving and print one line per datagram. Like systemd, it lets
 * go of the file descriptor a `BARRIER=1` message carries, which is what releases the sending systemd-notify.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

const RECEIVER = `use strict; use Socket; $| = 1;
my $path = shift;
socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_un($path)) or die "bind: $!";
print "listening\\n";
while (1) { my $buf; defined(recv($s, $buf, 65536, 0)) or die "recv: $!"; $buf =~ s/\\n/|/g; print "$buf\\n"; }
`;

export interface Notification {
  /** The datagram's fields (`READY=1`, `STATUS=…`). */
  fields: string[];
  /** performance.now() when it arrived. */
  at: number;
}

export class FakeNotifySocket {
  readonly path: string;
  readonly messages: Notification[] = [];
  readonly #dir: string;
  #proc: ChildProcess | null = null;
  #waiters: (() => void)[] = [];

  constructor() {
    this.#dir = mkdtempSync(path.join(tmpdir(), 'sg-notify-'));
    this.path = path.join(this.#dir, 'notify.sock');
  }

  async start(): Promise<this> {
    const script = path.join(this.#dir, 'receive.pl');
    writeFileSync(script, RECEIVER);
    const proc = spawn('perl', [script, this.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    this.#proc = proc;
    const lines = createInterface({ input: proc.stdout! });
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('exit', (code) => reject(new Error(`notify receiver exited with ${code}`)));
      lines.on('line', (line) => {
        if (line === 'listening') return resolve();
        this.messages.push({ fields: line.split('|').filter(Boolean), at: performance.now() });
        for (const w of this.#waiters.splice(0)) w();
      });
    });
    return this;
  }

  /** Messages carrying `field` (e.g. `READY=1`), in arrival order (systemd-notify's BARRIER=1 follow-ups excluded). */
  with(field: string): Notification[] {
    return this.messages.filter((m) => m.fields.includes(field));
  }

  async waitFor(field: string, ms = 10_000, count = 1): Promise<Notification> {
    const end = Date.now() + ms;
    while (this.with(field).length < count) {
      if (Date.now() > end) throw new Error(`no ${field} within ${ms} ms; got ${JSON.stringify(this.messages.map((m) => m.fields))}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.with(field)[count - 1] as Notification;
  }

  stop(): void {
    this.#proc?.kill('SIGKILL');
    this.#proc = null;
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
