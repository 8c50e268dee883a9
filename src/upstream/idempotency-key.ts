/**
 * The `Idempotency-Key` storegate sends Talon.One for a record or a call (README "Journal and delivery").
 *
 * The key is the terminal's own when it gave one, else a UUID storegate made. A terminal over HTTP can only send
 * header bytes, but one over MQTT (src/mqtt/rpc.ts) can send any JSON string, and the HTTP client refuses a header
 * value outside visible ASCII (undici: "invalid idempotency-key header"). Such a record could then never be
 * delivered: the flusher retried it for ever (found by the fuzz suite, seed 1388095649). A key that is not
 * visible ASCII, or longer than 255 characters, goes upstream as `sg-sha256-<hex of its UTF-8 bytes>` instead:
 * the same for every send of the record, so Talon.One still dedupes a retry, and a key that never was header-safe
 * was never sent upstream as it was before.
 */
import { createHash } from 'node:crypto';

const HEADER_SAFE = /^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$/;

export function upstreamIdempotencyKey(key: string): string {
  return HEADER_SAFE.test(key) ? key : `sg-sha256-${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}
