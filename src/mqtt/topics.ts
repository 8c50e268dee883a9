/**
 * The MQTT topic names (the topic table of README "Head office and MQTT"). `P` = `<topicPrefix>/<store.integrationId>`. A push addressed to every
 * store (`storeIntegrationId: "*"`) is published by head office under the literal store segment `*`
 * (`<topicPrefix>/` then `*` then `/<kind>/set`): `*` is an ordinary character in MQTT topic names (only `+` and `#` are
 * wildcards), so every shop subscribes to its own topics and to the fleet-wide ones.
 */
export const PUSH_KINDS = ['config', 'rules', 'prices', 'coupons', 'loyalty', 'catalog', 'collections'] as const;
export type PushTopicKind = (typeof PUSH_KINDS)[number];

/** The terminal RPC methods and the HTTP operation each one is. */
export const RPC_METHODS = {
  updateCustomerSession: 'updateSession',
  returnCartItems: 'returnItems',
  reopenCustomerSession: 'reopenSession',
  trackEvent: 'trackEvent',
  updateCustomerProfile: 'updateProfile',
  getCustomerInventory: 'getInventory',
  getLoyaltyBalances: 'getBalances',
} as const;
export type RpcMethod = keyof typeof RPC_METHODS;

export const FLEET_SEGMENT = '*';

export class Topics {
  readonly prefix: string;
  readonly base: string;
  readonly fleetBase: string;

  constructor(topicPrefix: string, storeIntegrationId: string) {
    this.prefix = topicPrefix;
    this.base = `${topicPrefix}/${storeIntegrationId}`;
    this.fleetBase = `${topicPrefix}/${FLEET_SEGMENT}`;
  }

  get status(): string {
    return `${this.base}/status`;
  }
  get alerts(): string {
    return `${this.base}/alerts`;
  }
  set(kind: PushTopicKind): string {
    return `${this.base}/${kind}/set`;
  }
  fleetSet(kind: PushTopicKind): string {
    return `${this.fleetBase}/${kind}/set`;
  }
  ack(kind: PushTopicKind): string {
    return `${this.base}/${kind}/ack`;
  }
  get rpcFilter(): string {
    return `${this.base}/rpc/+`;
  }
  scans(terminalId: string): string {
    return `${this.base}/terminals/${terminalId}/scans`;
  }
  priceCheck(scannerId: string): string {
    return `${this.base}/pricecheck/${scannerId}`;
  }

  /** The push kind a `…/<kind>/set` topic names (this store's or the fleet's), else null. */
  pushKindOf(topic: string): PushTopicKind | null {
    for (const base of [this.base, this.fleetBase]) {
      if (!topic.startsWith(`${base}/`) || !topic.endsWith('/set')) continue;
      const kind = topic.slice(base.length + 1, -4);
      if ((PUSH_KINDS as readonly string[]).includes(kind)) return kind as PushTopicKind;
    }
    return null;
  }

  /** The RPC method a `P/rpc/<method>` topic names (known or not), else null. */
  rpcMethodOf(topic: string): string | null {
    const p = `${this.base}/rpc/`;
    return topic.startsWith(p) ? topic.slice(p.length) : null;
  }

  /**
   * Topics a terminal may not name as its RPC `responseTopic`: the gateway's own outputs and every shop's
   * inputs under the prefix. Otherwise anyone on the broker could make the gateway publish over its status, an
   * ack, an alert, or another shop's pushes. (Broker ACLs are the real fence; this keeps the gateway from being
   * the tool.) Wildcards are never valid in a topic name.
   */
  isForbiddenResponseTopic(topic: string): boolean {
    if (topic.length === 0 || topic.length > 1024 || /[#+\u0000]/.test(topic)) return true;
    if (!topic.startsWith(`${this.prefix}/`)) return false;
    const rest = topic.slice(this.prefix.length + 1).split('/').slice(1);
    const [first, second] = rest;
    if (first === undefined) return true;
    if (first === 'status' || first === 'alerts' || first === 'rpc' || first === 'pricecheck') return true;
    if ((PUSH_KINDS as readonly string[]).includes(first) && (second === 'set' || second === 'ack')) return true;
    if (first === 'terminals' && rest[2] === 'scans') return true;
    return false;
  }
}
