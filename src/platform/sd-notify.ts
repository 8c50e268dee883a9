/**
 * systemd's readiness and watchdog protocol (sd_notify(3)) for `Type=notify` units.
 *
 * The protocol is a datagram on the AF_UNIX socket named by `$NOTIFY_SOCKET`, and Node.js has no AF_UNIX
 * datagram sockets (dgram is UDP only; net is streams only). A native addon would add a compiled file per CPU
 * to the single binary; instead each message is sent by `systemd-notify`, which ships with systemd itself, so it
 * is there wherever `$NOTIFY_SOCKET` is set. Because the sender is then a child process, the unit needs
 * `NotifyAccess=all` (systemd/storegate.service). systemd-notify waits until the manager has processed the
 * message (a `BARRIER=1` round trip) before it exits, so systemd can still tell which unit the child belonged to.
 *
 * - `ready()` once the journal is open and HTTP listens (`READY=1`): `systemctl start` returns only then, and
 *   units ordered after storegate start against a gateway that answers.
 * - Watchdog: with `WatchdogSec=` systemd sets `$WATCHDOG_USEC`; a `WATCHDOG=1` goes every half of it from a
 *   timer on the main event loop, so a loop that hangs (or spins) stops the pings and systemd restarts the
 *   service. A ping whose helper has not finished yet is skipped, never queued.
 * - `stopping()` at shutdown (`STOPPING=1`): systemd then shows "deactivating" and stops expecting pings.
 * Without `$NOTIFY_SOCKET` (not started by systemd) every call does nothing.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../telemetry/logger.js';

/** Sends one notification (newline-separated `KEY=VALUE` fields); resolves false when it could not. */
export type NotifySend = (fields: string[]) => Promise<boolean>;

export interface NotifierOptions {
  env: NodeJS.ProcessEnv;
  log: Logger;
  pid?: number;
  /** How a message leaves (default: the `systemd-notify` helper); tests pass a recorder. */
  send?: NotifySend;
  /** The watchdog timer (default: setInterval, unref'd). */
  every?: (ms: number, fn: () => void) => { stop(): void };
}

/** A helper still running after this long is killed: systemd-notify's own barrier gives up after 5 s. */
const HELPER_TIMEOUT_MS = 10_000;

export class SystemdNotifier {
  readonly #socket: string | null;
  readonly #watchdogMs: number | null;
  readonly #log: Logger;
  readonly #send: NotifySend;
  readonly #every: NonNullable<NotifierOptions['every']>;
  #timer: { stop(): void } | null = null;
  #pinging = false;
  #disabled = false;

  constructor(opts: NotifierOptions) {
    const socket = opts.env.NOTIFY_SOCKET;
    this.#socket = socket ? socket : null;
    this.#watchdogMs = watchdogInterval(opts.env, opts.pid ?? process.pid);
    this.#log = opts.log;
    this.#send = opts.send ?? ((fields) => this.#helper(fields));
    this.#every =
      opts.every ??
      ((ms, fn) => {
        const t = setInterval(fn, ms);
        t.unref();
        return { stop: () => clearInterval(t) };
      });
  }

  /** true when started by systemd with a notify socket. */
  get active(): boolean {
    return this.#socket !== null && !this.#disabled;
  }

  /** The ping period (half of `WatchdogSec=`), or null when systemd watches nothing. */
  get watchdogMs(): number | null {
    return this.#watchdogMs;
  }

  /** `READY=1` with a one-line status for `systemctl status`, then the watchdog pings start. */
  async ready(status: string): Promise<void> {
    if (!this.active) return;
    await this.#notify(['READY=1', `STATUS=${oneLine(status)}`]);
    this.#startWatchdog();
  }

  /** `STOPPING=1`: shutdown has begun; pings end. */
  async stopping(status = 'stopping: draining requests, syncing the journal'): Promise<void> {
    this.#timer?.stop();
    this.#timer = null;
    if (!this.active) return;
    await this.#notify(['STOPPING=1', `STATUS=${oneLine(status)}`]);
  }

  /** Ends the pings without telling systemd anything (tests, failed starts). */
  close(): void {
    this.#timer?.stop();
    this.#timer = null;
  }

  #startWatchdog(): void {
    const ms = this.#watchdogMs;
    if (ms === null || this.#timer) return;
    this.#timer = this.#every(ms, () => {
      if (this.#pinging || !this.active) return; // the last helper is still out: one ping at a time
      this.#pinging = true;
      void this.#notify(['WATCHDOG=1']).finally(() => (this.#pinging = false));
    });
    this.#log.info({ watchdogMs: ms }, 'systemd watchdog pings started');
  }

  async #notify(fields: string[]): Promise<boolean> {
    const ok = await this.#send(fields);
    if (!ok) this.#log.warn({ fields: fields.map((f) => f.split('=', 1)[0]) }, 'systemd notification not delivered');
    return ok;
  }

  /** One `systemd-notify` run. Its environment is only what it needs: never the daemon's secrets. */
  #helper(fields: string[]): Promise<boolean> {
    return new Promise((resolve) => {
      let stderr = '';
      const child = spawn('systemd-notify', fields, {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { NOTIFY_SOCKET: this.#socket ?? '', PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' },
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
      child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
      child.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        if (err.code === 'ENOENT') {
          // Once is enough: every later message would fail the same way.
          this.#disabled = true;
          this.#log.error({ err: err.message }, 'NOTIFY_SOCKET is set but systemd-notify is not installed: systemd will not see the service as ready');
        } else {
          this.#log.warn({ err: err.message }, 'systemd-notify could not be started');
        }
        resolve(false);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        if (code !== 0) this.#log.warn({ code, stderr: stderr.trim().slice(0, 500) }, 'systemd-notify failed');
        resolve(code === 0);
      });
    });
  }
}

/**
 * Half of `$WATCHDOG_USEC` in ms, as sd_watchdog_enabled(3) reads it: none when unset or invalid, or when
 * `$WATCHDOG_PID` names another process.
 */
export function watchdogInterval(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** A status is one line of a datagram of `KEY=VALUE` lines. */
function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 200);
}
