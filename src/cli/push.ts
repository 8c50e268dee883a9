import { readFile } from 'node:fs/promises';
import { signPush } from '../trust/index.js';
import { publishAndWait } from '../mqtt/client-once.js';
import { FLEET_SEGMENT, PUSH_KINDS, type PushTopicKind } from '../mqtt/topics.js';

export interface PushCommandOptions {
  kind: string | undefined;
  file: string | undefined;
  key: string | undefined;
  mqtt: string | undefined;
  store: string | undefined;
  version: string | undefined;
  timeoutSec: string | undefined;
  topicPrefix: string;
  ca: string | undefined;
  expect: string | undefined;
  out: (line: string) => void;
  err: (line: string) => void;
}

const USAGE =
  'usage: storegate push config|rules|prices|coupons|loyalty|catalog|collections FILE --key PRIVATE.pem --store ID|* [--mqtt URL] [--version N] [--timeout SEC] [--topic-prefix P] [--ca FILE] [--expect N]';

/**
 * `storegate push`: head office signs a config or data push and publishes it retained on `P/<kind>/set`, then
 * waits for the shop's ack (or, for `--store *`, every ack until the timeout or `--expect N`). Without `--mqtt`
 * it prints the JWS, for `curl -H 'Content-Type: application/jose' --data-binary @- …/admin/data/<kind>`.
 * Exit 0 when every ack is ok, 1 on a refusal or no ack in time, 2 on a usage error.
 */
export async function pushCommand(o: PushCommandOptions): Promise<number> {
  if (!o.kind || !(PUSH_KINDS as readonly string[]).includes(o.kind) || !o.file || !o.key || !o.store) {
    o.err(USAGE);
    return 2;
  }
  const kind = o.kind as PushTopicKind;
  const version = o.version === undefined ? Date.now() : Number(o.version);
  if (!Number.isSafeInteger(version) || version < 1) {
    o.err(`--version must be a positive integer, not "${o.version}"`);
    return 2;
  }
  const timeoutMs = Math.round(Number(o.timeoutSec ?? '30') * 1000);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    o.err('--timeout must be a number of seconds');
    return 2;
  }
  let content: unknown;
  try {
    content = JSON.parse(await readFile(o.file, 'utf8'));
  } catch (e) {
    o.err(`cannot read ${o.file}: ${(e as Error).message}`);
    return 2;
  }
  // Versioned data sets carry the push version as their own, so the shop's version gate and its data agree.
  if (kind === 'rules' || kind === 'coupons' || kind === 'loyalty' || kind === 'catalog' || kind === 'collections') {
    if (typeof content !== 'object' || content === null || Array.isArray(content)) {
      o.err(`${o.file}: ${kind} data must be a JSON object`);
      return 2;
    }
    content = { ...(content as object), version };
  }
  const envelope = kind === 'config' ? { kind, version, storeIntegrationId: o.store, config: content } : { kind, version, storeIntegrationId: o.store, data: content };
  const jws = await signPush(envelope, await readFile(o.key, 'utf8'));
  if (!o.mqtt) {
    o.out(jws);
    return 0;
  }
  const fleet = o.store === FLEET_SEGMENT;
  const expect = o.expect !== undefined ? Number(o.expect) : fleet ? undefined : 1;
  const acks = await publishAndWait({
    url: o.mqtt,
    ...(o.ca ? { ca: await readFile(o.ca) } : {}),
    topic: `${o.topicPrefix}/${o.store}/${kind}/set`,
    payload: jws,
    ackFilter: `${o.topicPrefix}/${fleet ? '+' : o.store}/${kind}/ack`,
    version,
    timeoutMs,
    ...(expect !== undefined ? { expect } : {}),
    onAck: (topic, ack) => o.out(describeAck(topic, o.topicPrefix, kind, ack)),
  });
  if (acks.length === 0) {
    o.err(`no ack for ${kind} v${version} within ${timeoutMs / 1000} s (the push stays retained: a shop applies it when it connects)`);
    return 1;
  }
  if (expect !== undefined && acks.length < expect) {
    o.err(`${acks.length} of ${expect} stores acknowledged ${kind} v${version} within ${timeoutMs / 1000} s`);
    return 1;
  }
  return acks.every((a) => a.ack.ok === true) ? 0 : 1;
}

function describeAck(topic: string, prefix: string, kind: string, ack: Record<string, unknown>): string {
  const store = topic.slice(prefix.length + 1, -(kind.length + 5));
  if (ack.ok === true) {
    const restart = Array.isArray(ack.restartRequired) && ack.restartRequired.length > 0 ? ` (restart required for: ${ack.restartRequired.join(', ')})` : '';
    return `${store} ${kind} v${String(ack.version)}: ok${restart}`;
  }
  return `${store} ${kind} v${String(ack.version)}: refused ${String(ack.code ?? '')}: ${String(ack.error ?? '')}`;
}
