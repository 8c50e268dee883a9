import type { Config } from '../config/schema.js';
import type { LocalData } from '../engine/index.js';
import { safeRegex } from '../engine/regex-guard.js';
import type { Clock } from '../platform/clock.js';
import type { Logger } from '../telemetry/logger.js';
import type { Metrics } from '../telemetry/metrics.js';
import { classifyCode, type CodePatterns } from './classify.js';
import { cleanCode } from './code.js';
import { deviceIdentity, openSerialDevice, type OpenDevice } from './device.js';
import { localLookups } from './local-lookups.js';
import { ScannerPort, type DropReason, type PortStatus } from './port.js';
import { renderPriceLine } from './price-display.js';
import { ScanHub, type ScanEvent } from './scan-hub.js';
import { ScannedCouponStore } from './scanned-coupons.js';

export type SerialPortConfig = Config['serial'][number];

/** A port in `/status`: its config identity and its live state. */
export type SerialStatusEntry = PortStatus & { role: SerialPortConfig['role']; terminalId?: string };

/** A price-check answer on `P/pricecheck/<scannerId>`: the price book's fields (null when not found). */
export interface PriceCheckAnswer {
  sku: string;
  price: number | null;
  finalPrice: number | null;
  label: string | null;
  validUntil: string | null;
  scannerId: string;
  at: string;
}

export interface SerialServiceDeps {
  ports: readonly SerialPortConfig[];
  localData: LocalData;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  /** `scannerGone` / `scannerBack` on `P/alerts`. */
  alert: (a: { kind: 'scannerGone' | 'scannerBack'; [k: string]: unknown }) => void;
  /** `P/terminals/<id>/scans` (a no-op without a broker). */
  publishScan: (terminalId: string, event: ScanEvent) => void;
  /** `P/pricecheck/<scannerId>`. */
  publishPriceCheck: (scannerId: string, answer: PriceCheckAnswer) => void;
  /** Device access (tests of the life cycle pass their own). */
  open?: OpenDevice;
  identity?: (path: string) => Promise<string | null>;
}

/** Dropped lines are logged at most this often per port (a noisy line would otherwise flood the log). */
const DROP_LOG_MS = 10_000;

/**
 * Barcode scanners and price-check stations wired to the mini-PC (README "Serial scanners"). Each configured
 * port is opened and kept open across unplugging; each code read is checked, classified and sent where its
 * role says: a terminal's scans to `P/terminals/<id>/scans` and that terminal's event stream (and, with
 * `autoApplyCoupons`, a coupon into its next session update); a price check's answer to `P/pricecheck/<id>`
 * and back to the station's display on the same port.
 */
export class SerialService {
  readonly scans = new ScanHub();
  readonly coupons: ScannedCouponStore;
  readonly #d: SerialServiceDeps;
  readonly #ports: { cfg: SerialPortConfig; port: ScannerPort; patterns: CodePatterns }[] = [];
  readonly #lookups: ReturnType<typeof localLookups>;
  readonly #dropLog = new Map<string, { at: number; suppressed: number }>();

  constructor(deps: SerialServiceDeps) {
    this.#d = deps;
    this.coupons = new ScannedCouponStore(() => deps.clock.now());
    this.#lookups = localLookups(deps.localData);
  }

  get configured(): boolean {
    return this.#d.ports.length > 0;
  }

  start(): void {
    const d = this.#d;
    for (const cfg of d.ports) {
      const log = d.log.child({ scanner: cfg.id });
      // Patterns were checked when the config was loaded (src/config/load.ts): they compile for the linear engine.
      const patterns: CodePatterns = {
        coupon: cfg.couponPattern ? safeRegex(cfg.couponPattern) : null,
        loyaltyCard: cfg.loyaltyCardPattern ? safeRegex(cfg.loyaltyCardPattern) : null,
      };
      const port: ScannerPort = new ScannerPort({
        id: cfg.id,
        path: cfg.path,
        baudRate: cfg.baudRate,
        suffix: cfg.suffix,
        interByteTimeoutMs: cfg.interByteTimeoutMs,
        maxLineBytes: cfg.maxLineBytes,
        goneAlertMs: cfg.goneAlertSec * 1000,
        open: d.open ?? openSerialDevice,
        identity: d.identity ?? deviceIdentity,
        clock: d.clock,
        log,
        onLine: (line) => this.#onLine(cfg, port, patterns, line, log),
        onDrop: (reason, bytes) => this.#onDrop(cfg, reason, bytes, log),
        onGone: (event, info) =>
          d.alert({
            kind: event === 'gone' ? 'scannerGone' : 'scannerBack',
            scannerId: cfg.id,
            path: cfg.path,
            closedForSec: Math.round(info.closedForMs / 1000),
            ...(info.lastError ? { lastError: info.lastError.message, code: info.lastError.code } : {}),
          }),
      });
      this.#ports.push({ cfg, port, patterns });
      port.start();
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.#ports.map((p) => p.port.stop()));
    this.scans.closeAll();
  }

  status(): SerialStatusEntry[] {
    return this.#ports.map(({ cfg, port }) => ({
      ...port.status(),
      role: cfg.role,
      ...(cfg.terminalId !== undefined ? { terminalId: cfg.terminalId } : {}),
    }));
  }

  #onLine(cfg: SerialPortConfig, port: ScannerPort, patterns: CodePatterns, line: Buffer, log: Logger): void {
    const d = this.#d;
    const clean = cleanCode(line, cfg);
    if ('drop' in clean) {
      port.drop(clean.drop, line.length);
      return;
    }
    const { code } = clean;
    const kind = classifyCode(code, this.#lookups, patterns);
    const at = new Date(d.clock.now()).toISOString();
    port.scanned();
    d.metrics.serialScans.inc({ scanner: cfg.id, kind });
    // The code itself is not logged: it may be a loyalty card number.
    log.debug({ kind, length: code.length }, 'scan');
    if (cfg.role === 'priceCheck') {
      void this.#priceCheck(cfg, port, code, at, log);
      return;
    }
    const terminalId = cfg.terminalId as string; // required for role terminal (src/config/load.ts)
    const event: ScanEvent = { scannerId: cfg.id, terminalId, code, kind, at, ...(clean.symbology ? { symbology: clean.symbology } : {}) };
    d.publishScan(terminalId, event);
    this.scans.publish(event);
    if (kind === 'coupon' && cfg.autoApplyCoupons) this.coupons.add(terminalId, code);
  }

  async #priceCheck(cfg: SerialPortConfig, port: ScannerPort, code: string, at: string, log: Logger): Promise<void> {
    const d = this.#d;
    const found = this.#lookups.price(code);
    d.metrics.serialPriceChecks.inc({ scanner: cfg.id, outcome: found ? 'found' : 'not_found' });
    const answer: PriceCheckAnswer = found
      ? { sku: found.sku, price: found.price, finalPrice: found.finalPrice, label: found.label, validUntil: found.validUntil, scannerId: cfg.id, at }
      : { sku: code, price: null, finalPrice: null, label: null, validUntil: null, scannerId: cfg.id, at };
    d.publishPriceCheck(cfg.id, answer);
    const text = renderPriceLine(code, found, {
      priceTemplate: cfg.priceTemplate,
      noPriceTemplate: cfg.noPriceTemplate,
      columns: cfg.displayColumns,
      rows: cfg.displayRows,
      decimals: this.#lookups.currencyDecimals(),
    });
    const written = await port.write(Buffer.from(`${text}${cfg.suffix || '\r\n'}`, 'latin1'));
    if (!written) log.warn('price-check answer not written: the port closed meanwhile');
  }

  #onDrop(cfg: SerialPortConfig, reason: DropReason, bytes: number, log: Logger): void {
    this.#d.metrics.serialDropped.inc({ scanner: cfg.id, reason });
    const now = this.#d.clock.monotonic();
    const key = cfg.id;
    const last = this.#dropLog.get(key);
    if (last && now - last.at < DROP_LOG_MS) {
      last.suppressed++;
      return;
    }
    this.#dropLog.set(key, { at: now, suppressed: 0 });
    const hint = reason === 'garbage' ? ' (bytes that are not text: check baudRate against the scanner)' : '';
    log.warn({ reason, bytes, alsoDroppedSinceLastLine: last?.suppressed ?? 0 }, `serial line dropped: ${reason}${hint}`);
  }
}
