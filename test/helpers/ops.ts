import { ADMIN_TOKEN } from './gateway.js';

/** Headers of the operations API (`Authorization: Bearer <adminToken>`). */
export const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

/** The sum of a metric's samples whose line starts with `name` (e.g. `x_total{op="updateSession"`) in `/metrics`. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`, { headers: adminHeaders })).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && !line.startsWith('#')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** `GET /status` as JSON. */
export async function statusOf(url: string): Promise<Record<string, any>> {
  return (await (await fetch(`${url}/status`, { headers: adminHeaders })).json()) as Record<string, any>;
}

/** A partial config pushed under the admin token (`PUT /admin/config`). */
export async function pushConfig(url: string, version: number, config: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}/admin/config`, { method: 'PUT', headers: adminHeaders, body: JSON.stringify({ version, config }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}
