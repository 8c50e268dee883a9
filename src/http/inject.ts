import type { FastifyInstance } from 'fastify';
import type { RpcAnswer, RpcCall } from '../mqtt/rpc.js';

/**
 * Runs one terminal call through the fastify app in process (`inject`): the same hooks, authentication, schema
 * validation, routing and response bodies as a call over the LAN. The MQTT RPC edge uses it so that there is one
 * code path for terminals, whatever they speak.
 */
export function injectInvoker(app: FastifyInstance): (call: RpcCall) => Promise<RpcAnswer> {
  return async (call) => {
    const res = await app.inject({
      method: call.method,
      url: call.url,
      headers: call.headers,
      ...(call.body === undefined ? {} : { payload: JSON.stringify(call.body) }),
    });
    const source = String(res.headers['x-storegate-source'] ?? 'gateway');
    const seq = res.headers['x-storegate-journal-seq'];
    const headers = { 'X-Storegate-Source': source, ...(seq !== undefined ? { 'X-Storegate-Journal-Seq': String(seq) } : {}) };
    const json = String(res.headers['content-type'] ?? '').includes('json');
    // Our own answers (local, or refused by the gateway) were serialised by fastify a moment ago: splice the
    // text in. Upstream bytes are parsed, so a malformed upstream body can never make a malformed MQTT answer.
    if (json && source !== 'upstream' && res.body.length > 0) return { status: res.statusCode, headers, bodyJson: res.body };
    let body: unknown = null;
    if (res.body.length > 0) {
      try {
        body = JSON.parse(res.body);
      } catch {
        body = res.body;
      }
    }
    return { status: res.statusCode, headers, body };
  };
}
