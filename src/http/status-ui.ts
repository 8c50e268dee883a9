/**
 * The technicians' status page and what it reads, all public (no token; README "Status page"):
 * `GET /` (the page), `GET /ui/status.json` (the public summary the page polls), `GET /ui/status.js` and
 * `GET /ui/status.css`. Plain HTML, CSS and JavaScript from this process: no build step, no CDN. The page's
 * details and actions use the admin routes with the token the technician types (src/http/status-page-admin.ts).
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { StatusDoc } from './ops-routes.js';
import { judge } from '../status/verdict.js';
import { publicSummary, type PublicSummary } from '../status/summary.js';
import type { HistorySnapshot } from '../status/history.js';
import type { TerminalActivity } from '../status/activity.js';
import { renderStatusPage } from './status-page.js';
import { PAGE_SCRIPT } from './status-page-script.js';
import { PLOTS_SCRIPT } from './status-page-plots.js';
import { ADMIN_SCRIPT } from './status-page-admin.js';
import { PAGE_STYLE } from './status-page-style.js';

export interface StatusUiDeps {
  /** The `/status` document (with `terminals` and the journal's `maxBytes` and `writable`). */
  status: () => StatusDoc;
  history: () => HistorySnapshot;
  /** Wall clock (ms) and monotonic clock (ms), from the clock port. */
  now: () => number;
  monotonic: () => number;
  /** Names the asset URLs, so a new release is not served from a phone's cache. */
  version: string;
}

/** The whole page script: one scope, strict, nothing global. */
export const STATUS_SCRIPT = `(function () {\n'use strict';\n${PAGE_SCRIPT}\n${PLOTS_SCRIPT}\n${ADMIN_SCRIPT}\n})();\n`;

/**
 * The page loads only its own script and style and talks only to this origin; no framing (the actions must
 * not be clickjacked), no referrer, no form submission (the token input is never sent as a form field).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
} as const;

/** A summary is made at most once a second, however many phones (or a LAN scanner) poll the page. */
const SUMMARY_MAX_AGE_MS = 1000;

export async function statusUiRoutes(app: FastifyInstance, deps: StatusUiDeps): Promise<void> {
  let cached: { at: number; summary: PublicSummary; json: string } | null = null;
  const summary = (): { summary: PublicSummary; json: string } => {
    const mono = deps.monotonic();
    if (cached && mono - cached.at < SUMMARY_MAX_AGE_MS) return cached;
    const doc = deps.status();
    const now = deps.now();
    const s = publicSummary(doc, judge(doc, now), deps.history(), now);
    cached = { at: mono, summary: s, json: JSON.stringify(s) };
    return cached;
  };
  const send = (reply: FastifyReply, type: string, body: string) => reply.headers(SECURITY_HEADERS).header('content-type', type).header('x-storegate-source', 'gateway').send(body);

  app.get('/', async (_req, reply) => send(reply, 'text/html; charset=utf-8', renderStatusPage(summary().summary, deps.version)));
  app.get('/ui/status.json', async (_req, reply) => send(reply, 'application/json; charset=utf-8', summary().json));
  app.get('/ui/status.js', async (_req, reply) => send(reply, 'text/javascript; charset=utf-8', STATUS_SCRIPT));
  app.get('/ui/status.css', async (_req, reply) => send(reply, 'text/css; charset=utf-8', PAGE_STYLE));
}

/** Feeds "terminals seen" and the answers-by-source plot from every terminal request (HTTP and MQTT RPC). */
export function trackTerminalActivity(app: FastifyInstance, activity: TerminalActivity): void {
  app.addHook('onResponse', (req, _reply, done) => {
    if (req.terminalId !== null) activity.record(req.terminalId, req.answerSource);
    done();
  });
}
