import type { UpstreamOp } from '../upstream/client.js';

/** The seven Talon.One terminal operations (README "Terminal API (Talon.One-compatible)"), with their routes. */
export type TerminalOp = 'updateSession' | 'returnItems' | 'reopenSession' | 'trackEvent' | 'updateProfile' | 'getInventory' | 'getBalances';

export interface OperationSpec {
  op: TerminalOp & UpstreamOp;
  method: 'GET' | 'PUT' | 'POST';
  /** fastify route pattern; the upstream path is the same with parameters re-encoded. */
  url: string;
  /** Key in talon-request-schemas.json `roots`, when the route has a body. */
  bodySchema?: 'updateCustomerSession' | 'returnCartItems' | 'trackEvent' | 'updateCustomerProfile';
  /** Where the store id lives in the body, for routes that carry one (sessions and events). */
  storePath?: readonly string[];
  /** Talon.One answers this route's 400 with ErrorResponse (no StatusCode) rather than ErrorResponseWithStatus. */
  plainErrorShape?: boolean;
}

export const OPERATIONS: readonly OperationSpec[] = [
  {
    op: 'updateSession',
    method: 'PUT',
    url: '/v2/customer_sessions/:customerSessionId',
    bodySchema: 'updateCustomerSession',
    storePath: ['customerSession', 'storeIntegrationId'],
    plainErrorShape: true,
  },
  { op: 'returnItems', method: 'POST', url: '/v2/customer_sessions/:customerSessionId/returns', bodySchema: 'returnCartItems' },
  { op: 'reopenSession', method: 'PUT', url: '/v2/customer_sessions/:customerSessionId/reopen' },
  { op: 'trackEvent', method: 'POST', url: '/v2/events', bodySchema: 'trackEvent', storePath: ['storeIntegrationId'] },
  { op: 'updateProfile', method: 'PUT', url: '/v2/customer_profiles/:integrationId', bodySchema: 'updateCustomerProfile' },
  { op: 'getInventory', method: 'GET', url: '/v1/customer_profiles/:integrationId/inventory' },
  { op: 'getBalances', method: 'GET', url: '/v1/loyalty_programs/:loyaltyProgramId/profile/:integrationId/balances' },
];

/** Builds the upstream path from the route pattern and the (decoded) parameters, re-encoding each one. */
export function upstreamPath(spec: OperationSpec, params: Readonly<Record<string, string>>, query: string): string {
  const p = spec.url.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
  return query ? `${p}?${query}` : p;
}
