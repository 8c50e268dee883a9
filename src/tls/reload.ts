/**
 * Certificates reloaded without a restart (README "HTTPS on the shop's LAN"): the files are watched (fs.watch on
 * their folders: editors, `cp`, `mv` and `storegate keys tls` replace a file in different ways, and a watch on the
 * file itself loses it at the first rename) and, because events miss some changes (network filesystems, a
 * symlink's target changing, a bind mount), their content is also compared every `checkIntervalSec`. New files
 * that fail the checks of src/tls/files.ts are refused and the loaded ones kept, with the reason logged.
 * Connections already open keep the certificate they were opened with; new handshakes get the new one.
 */
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Logger } from '../telemetry/logger.js';
import { checkTlsMaterial, readTlsMaterial, type CertificateInfo, type TlsMaterial, type TlsPaths } from './files.js';

export interface ReloaderDeps {
  paths: TlsPaths;
  /** What is loaded now (read and checked at start). */
  current: { material: TlsMaterial; info: CertificateInfo };
  /** Installs new files in the server (`tls.Server.setSecureContext`). */
  apply: (m: TlsMaterial) => void;
  intervalMs: number;
  log: Logger;
  now: () => number;
}

export type CheckOutcome = 'unchanged' | 'reloaded' | 'refused' | 'settling';

/**
 * Files are written one after the other (a key, then its certificate): a half-replaced set is looked at again
 * after this long before it is called invalid and logged.
 */
const SETTLE_MS = 1000;
/** File events come in bursts (write, chmod, rename): one look after the burst. */
const DEBOUNCE_MS = 100;

export interface ReloadStatus {
  loadedAt: string;
  reloads: number;
  lastError: { at: string; reason: string } | null;
}

export class CertificateReloader {
  readonly #d: ReloaderDeps;
  #digest: string;
  #info: CertificateInfo;
  #loadedAt: number;
  #reloads = 0;
  #lastError: { at: number; reason: string } | null = null;
  #watchers: FSWatcher[] = [];
  #timer: NodeJS.Timeout | null = null;
  #debounce: NodeJS.Timeout | null = null;
  #settle: NodeJS.Timeout | null = null;
  /** A refused set first seen (it may still be mid-replacement) and when, and the last one logged. */
  #suspect: { key: string; since: number } | null = null;
  #reported: string | null = null;
  #running: Promise<CheckOutcome> | null = null;
  #again = false;
  #stopped = false;

  constructor(deps: ReloaderDeps) {
    this.#d = deps;
    this.#digest = deps.current.material.digest;
    this.#info = deps.current.info;
    this.#loadedAt = deps.now();
  }

  get info(): CertificateInfo {
    return this.#info;
  }

  start(): void {
    const { paths } = this.#d;
    const files = [paths.certFile, paths.keyFile, ...(paths.caFile ? [paths.caFile] : [])];
    const byDir = new Map<string, Set<string>>();
    for (const f of files) {
      const names = byDir.get(path.dirname(f)) ?? new Set<string>();
      names.add(path.basename(f));
      byDir.set(path.dirname(f), names);
    }
    for (const [dir, names] of byDir) {
      try {
        const w = watch(dir, { persistent: false }, (_event, name) => {
          // Some platforms give no name: look anyway, the check compares content.
          if (name === null || names.has(String(name))) this.#soon();
        });
        w.on('error', (err) => this.#d.log.debug({ dir, err: (err as Error).message }, 'TLS file watch ended; the periodic check goes on'));
        this.#watchers.push(w);
      } catch (err) {
        this.#d.log.warn({ dir, code: (err as NodeJS.ErrnoException).code }, 'cannot watch the TLS files\' folder; changes are picked up by the periodic check only');
      }
    }
    this.#timer = setInterval(() => void this.check(), this.#d.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    for (const w of this.#watchers) w.close();
    this.#watchers = [];
    for (const t of [this.#timer, this.#debounce, this.#settle]) if (t) clearTimeout(t);
    this.#timer = this.#debounce = this.#settle = null;
  }

  status(): ReloadStatus {
    const e = this.#lastError;
    return { loadedAt: new Date(this.#loadedAt).toISOString(), reloads: this.#reloads, lastError: e ? { at: new Date(e.at).toISOString(), reason: e.reason } : null };
  }

  /** Looks at the files now (one look at a time; a request during a look runs once more after it). */
  check(): Promise<CheckOutcome> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#look().finally(() => {
      this.#running = null;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.check();
      }
    });
    return this.#running;
  }

  #soon(): void {
    if (this.#stopped) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      this.#debounce = null;
      void this.check();
    }, DEBOUNCE_MS);
    this.#debounce.unref();
  }

  async #look(): Promise<CheckOutcome> {
    const { material, errors: readErrors } = await readTlsMaterial(this.#d.paths);
    if (this.#stopped) return 'unchanged';
    if (material && material.digest === this.#digest) {
      this.#suspect = null;
      return 'unchanged';
    }
    const now = this.#d.now();
    const check = material ? checkTlsMaterial(material, now) : { info: null, errors: readErrors, warnings: [] };
    const problems = check.errors.map((e) => `${e.path}: ${e.message}`);
    if (problems.length === 0 && check.info && this.#stillValid(now) && !validAt(check.info, now)) {
      problems.push(`/http/tls/certFile: the new certificate is valid only from ${check.info.notBefore} to ${check.info.notAfter}; the loaded one is kept until then`);
    }
    // A digest for unreadable files too, so the same missing file is reported once, not at every look.
    const key = material?.digest ?? `unreadable:${problems.join('|')}`;
    if (problems.length > 0) return this.#refuse(key, problems.join('; '), now);
    try {
      this.#d.apply(material as TlsMaterial);
    } catch (err) {
      return this.#refuse(key, `OpenSSL refused the new files: ${(err as Error).message.split('\n')[0]}`, now);
    }
    const info = check.info as CertificateInfo;
    this.#digest = key;
    this.#info = info;
    this.#loadedAt = now;
    this.#reloads++;
    this.#suspect = this.#reported = null;
    this.#lastError = null;
    this.#d.log.info({ subject: info.subject, names: info.names, notAfter: info.notAfter, sha256: info.sha256 }, 'TLS certificate reloaded: new connections get it');
    for (const w of check.warnings) this.#d.log.warn(w);
    return 'reloaded';
  }

  #refuse(key: string, reason: string, now: number): CheckOutcome {
    if (key === this.#reported) return 'refused';
    // Maybe half-way through a replacement: look again once it has stood for SETTLE_MS before calling it invalid
    // (real elapsed time: a file event and the periodic look can come a millisecond apart).
    if (key !== this.#suspect?.key) this.#suspect = { key, since: performance.now() };
    const wait = SETTLE_MS - (performance.now() - this.#suspect.since);
    if (wait > 0) {
      if (this.#settle) clearTimeout(this.#settle);
      this.#settle = setTimeout(() => {
        this.#settle = null;
        void this.check();
      }, wait);
      this.#settle.unref();
      return 'settling';
    }
    this.#reported = key;
    this.#lastError = { at: now, reason };
    this.#d.log.warn({ reason, kept: { subject: this.#info.subject, notAfter: this.#info.notAfter, sha256: this.#info.sha256 } }, 'new TLS files refused: the loaded certificate is kept');
    return 'refused';
  }

  #stillValid(now: number): boolean {
    return validAt(this.#info, now);
  }
}

function validAt(info: CertificateInfo, now: number): boolean {
  return Date.parse(info.notBefore) <= now && now < Date.parse(info.notAfter);
}
