/**
 * Public types of the Talon.One emulator (programmatic API) and the JSON shapes it answers with.
 * Wire shapes follow Talon.One's Integration API (https://docs.talon.one/integration-api, schemas in
 * https://docs.talon.one/oas/integration.yaml);
 * they are kept loose (`Json`) where the emulator only echoes what it was given.
 */

import type { ManagementData } from './management.js';
import type { ManagementApi } from './management-http.js';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** One request as it reached the emulator (API routes only; `/_emulator/*` is not recorded). */
export interface RecordedRequest {
  method: string;
  /** Path with query string, exactly as received. */
  path: string;
  /** Lower-case header names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** Parsed JSON body, the raw text when it was not JSON, `undefined` when empty. */
  body: unknown;
  status: number;
  /** Emulator time (`now()`), epoch milliseconds, when the response was sent. */
  at: number;
  /** Present when the `stallMs` fault held this request: how long it was held before it went on. */
  stalledMs?: number;
}

/**
 * Fault injection. `setFaults` replaces the whole set; `{}` clears every fault.
 * Faults apply to API routes only (never to `/_emulator/*`), optionally limited by `paths`.
 */
export interface Faults {
  /** Added delay before a request is processed (inside the per-session queue, so it also makes requests pile up). */
  latencyMs?: number;
  /** Extra random delay in [0, jitterMs). */
  jitterMs?: number;
  /** Probability (0..1) of answering `errorStatus` instead of processing. */
  errorRate?: number;
  /** Status used by `errorRate` and `failNext`; default 500. */
  errorStatus?: number;
  /** Probability (0..1) of answering 429. */
  rate429?: number;
  /** Probability (0..1) of answering 409 (the concurrency error body). */
  status409Rate?: number;
  /** Accept requests and never answer them (until the client gives up or the emulator closes). */
  hang?: boolean;
  /** Stop listening (connections are refused) until cleared, or until `refuseForMs` has passed. */
  refuse?: boolean;
  /** With `refuse`: listen again by itself after this many (real) milliseconds. */
  refuseForMs?: number;
  /** Fail the next N API requests with `errorStatus`. */
  failNext?: number;
  /**
   * Hold each request this long after it was read in full, before anything else (API key, session queue,
   * latency): a request stuck on its way, which a later request of the same session overtakes. It is executed
   * afterwards even if the client gave up and closed the connection meanwhile (as a server does with a
   * request it received whole); its answer then goes nowhere. Recorded with `stalledMs`.
   */
  stallMs?: number;
  /** With `stallMs`: stall only the next N matching requests, then clear the stall (absent or 0 = every request). */
  stallNext?: number;
  /**
   * Spoil the 2xx answers of API requests (after they were executed and their Idempotency-Key stored, so a replay
   * gets the sound answer): `unknownEffectType` adds an effect of a type Talon.One does not have,
   * `discountAboveTotal` adds a `setDiscount` ten times the session total, `badPosition` moves each
   * `setDiscountPerItem` to a cart item that does not exist, `unknownCampaign` gives every effect campaign 999999,
   * `missingEffects` drops the required `effects`, `notJson` answers an HTML page. For testing answer checks.
   */
  corrupt?: CorruptMode;
  /** With `corrupt`: spoil only the next N matching answers, then clear it (absent or 0 = every answer). */
  corruptNext?: number;
  /** Limit faults to request paths starting with one of these prefixes (e.g. "/v2/customer_sessions"). */
  paths?: string[];
}

export const CORRUPT_MODES = ['unknownEffectType', 'discountAboveTotal', 'badPosition', 'unknownCampaign', 'missingEffects', 'notJson'] as const;
export type CorruptMode = (typeof CORRUPT_MODES)[number];

export interface StartOptions {
  /** 0 or absent = a random free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  apiKey: string;
  /** Campaigns file (format: scripts/talon-emulator/README.md); default scripts/talon-emulator/campaigns.json. */
  campaignsFile?: string;
  /** Campaigns given inline (wins over `campaignsFile`). */
  campaigns?: unknown;
  /** Emulator clock, epoch ms (timestamps, idempotency expiry, coupon/campaign validity). Default Date.now. */
  now?: () => number;
  /** Record requests (default true). Switch off for benchmarks. */
  record?: boolean;
  /** Keep at most this many recorded requests (default 100,000; oldest dropped first). */
  maxRecorded?: number;
  /** Optional second port serving only `/_emulator/*` (reachable while `refuse` is on). */
  adminPort?: number;
  /** Management API key (`Authorization: ManagementKey-v1 <key>`); absent = the Management API answers 401. */
  managementKey?: string;
  /** Requests per second per Management API endpoint before 429 (default 3, Talon.One's limit). */
  managementRatePerSec?: number;
  /** The Management API's initial data (reloaded by `reset`). */
  management?: ManagementData;
}

export interface Emulator {
  /** Base URL of the API, e.g. http://127.0.0.1:43121 (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Base URL of the admin-only server, when `adminPort` was given. */
  readonly adminUrl: string | undefined;
  /** Recorded requests, oldest first (a copy). */
  readonly requests: RecordedRequest[];
  /** Also clears the in-flight high-water marks. */
  clearRequests(): void;
  /**
   * Per session (`s:<id>`) / profile (`p:<id>`) key: the most API requests that were in flight at once
   * (from arrival to response sent or connection closed, hung ones included; GETs of a session count).
   * Tracked while recording is on; cleared by `clearRequests` and `reset`.
   */
  inFlightHighWater(): Record<string, number>;
  setRecording(on: boolean): void;
  /** Replace the fault set. Resolves once the listening state matches (relevant for `refuse`). */
  setFaults(f: Faults): Promise<void>;
  getFaults(): Faults;
  /** Forget sessions, profiles, events, idempotency keys, recorded requests and faults; reload campaigns. */
  reset(): void;
  getSession(integrationId: string): JsonObject | undefined;
  getCoupon(code: string): JsonObject | undefined;
  getProfile(integrationId: string): JsonObject | undefined;
  getBalance(programId: number, profileId: string): JsonObject | undefined;
  /** The Management API's data, rate-limit counters and notifications (management-http.ts). */
  readonly management: ManagementApi;
  close(): Promise<void>;
}
