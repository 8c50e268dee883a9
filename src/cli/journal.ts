import { hostname, userInfo } from 'node:os';
import { adminCall, type DaemonTarget } from './daemon-client.js';

export interface JournalCommandOptions {
  /** The daemon (src/cli/daemon-client.ts: HTTPS with the config's trust when it has http.tls). */
  url: string | DaemonTarget;
  adminToken: string | null;
  json: boolean;
  /** `retry`, `discard`: the seqs named after the subcommand. */
  args?: readonly string[];
  /** `retry`: send dead letters a later record of their session overtook anyway. */
  force?: boolean;
  /** `discard`: why (required). */
  reason?: string;
  /** `discard`, `retry`: who (default: user@host). */
  by?: string;
  /** `list`: at most this many records (default 100). */
  limit?: number;
  /** Where the config came from (named when the daemon refuses its admin token). */
  configSource?: string;
}

const USAGE =
  'usage: storegate journal stats|list|dead|flush [--config FILE] [--url URL] [--json] [--limit N]\n' +
  '       storegate journal retry [SEQ...] [--force]\n' +
  '       storegate journal discard SEQ --reason TEXT [--by NAME]';

function operator(by: string | undefined): string {
  if (by) return by;
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
}

/** How long `journal flush` and `journal retry` let the daemon wait for deliveries (its HTTP routes default to 0.5 s). */
const CLI_FLUSH_WAIT_SEC = 110;

/**
 * `storegate journal stats|list|dead|flush|retry|discard`: asks the running daemon (the journal has one writer,
 * the daemon, so the CLI never opens the files itself while it runs).
 */
export async function journalCommand(sub: string | undefined, opts: JournalCommandOptions): Promise<number> {
  const args = opts.args ?? [];
  let route: ['GET' | 'POST', string, unknown?] | undefined;
  switch (sub) {
    case 'stats':
      route = ['GET', '/admin/journal/stats'];
      break;
    case 'list':
      if (opts.limit !== undefined && !(Number.isSafeInteger(opts.limit) && opts.limit > 0)) break;
      route = ['GET', `/admin/journal/list?limit=${opts.limit ?? 100}`];
      break;
    case 'dead':
      route = ['GET', '/admin/journal/dead'];
      break;
    case 'flush':
      route = ['POST', `/admin/journal/flush?wait=${CLI_FLUSH_WAIT_SEC}`];
      break;
    case 'retry': {
      const seqs = args.map(Number);
      if (seqs.some((n) => !Number.isSafeInteger(n) || n <= 0)) break;
      route = ['POST', `/admin/journal/dead/retry?wait=${CLI_FLUSH_WAIT_SEC}`, { ...(seqs.length > 0 ? { seqs } : {}), force: opts.force === true, by: operator(opts.by) }];
      break;
    }
    case 'discard': {
      const seq = Number(args[0]);
      if (args.length !== 1 || !Number.isSafeInteger(seq) || seq <= 0 || !opts.reason?.trim()) break;
      route = ['POST', `/admin/journal/dead/${seq}/discard`, { reason: opts.reason, by: operator(opts.by) }];
      break;
    }
  }
  if (!route) {
    console.error(USAGE);
    return 2;
  }
  let data: unknown;
  try {
    data = await adminCall(opts.url, opts.adminToken, route[0], route[1], sub === 'flush' || sub === 'retry' ? (CLI_FLUSH_WAIT_SEC + 10) * 1000 : 10_000, route[2], opts.configSource);
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  if (opts.json) {
    console.log(JSON.stringify(data, null, 2));
    return sub === 'flush' ? flushExit(data) : 0;
  }
  if (sub === 'stats') {
    const s = data as Record<string, number>;
    console.log(`depth ${s.depth} undelivered, oldest ${s.oldestAgeSec} s, ${s.bytes} bytes in ${s.segments} segment(s), ${s.dead} dead letter(s), last seq ${s.lastSeq}`);
  } else if (sub === 'list' || sub === 'dead') {
    const rows = data as Record<string, unknown>[];
    if (rows.length === 0) console.log(sub === 'dead' ? 'no dead letters' : 'journal empty');
    for (const r of rows) {
      const later = r.laterSent === null || r.laterSent === undefined ? '' : r.laterSent === 0 ? ' (overtaken?)' : ` (overtaken by #${String(r.laterSent)})`;
      const extra = sub === 'dead' ? ` → HTTP ${String(r.status)} ${JSON.stringify(r.upstreamBody)}${r.retrying ? ' [retrying]' : later}` : '';
      console.log(`#${String(r.seq)} ${String(r.at)} ${String(r.kind)} ${String(r.key)} id=${String(r.id)}${extra}`);
    }
  } else if (sub === 'retry') {
    const r = data as { seqs: number[]; skipped: { seq: number; reason: string }[]; notFound: number[] };
    console.log(r.seqs.length > 0 ? `retried ${r.seqs.map((s) => `#${s}`).join(' ')}` : 'nothing retried');
    for (const k of r.skipped) console.log(`skipped #${k.seq}: ${k.reason}`);
    if (r.notFound.length > 0) console.log(`no such dead letter: ${r.notFound.map((s) => `#${s}`).join(' ')}`);
  } else if (sub === 'discard') {
    const d = (data as { discarded: Record<string, unknown> }).discarded;
    console.log(`discarded #${String(d.seq)} ${String(d.kind)} ${String(d.key)} id=${String(d.id)} by ${String(d.by)}: ${String(d.reason)}`);
  } else if (sub === 'flush') {
    const f = data as FlushAnswer;
    if (!f.ok) console.log(`nothing flushed: ${f.reason ?? 'no upstream'}`);
    else {
      const left = f.journal ? `; ${f.journal.depth} still undelivered, ${f.journal.dead} dead letter(s)` : '';
      console.log(`delivered ${f.delivered ?? 0}, dead-lettered ${f.deadLettered ?? 0}${f.timedOut ? ', stopped at the time limit' : ''}${left}`);
      if ((f.journal?.depth ?? 0) > 0 && (f.delivered ?? 0) === 0) console.log('Talon.One took nothing: is it reachable? (storegate doctor)');
    }
    return flushExit(data);
  }
  return 0;
}

interface FlushAnswer {
  ok: boolean;
  reason?: string;
  delivered?: number;
  deadLettered?: number;
  timedOut?: boolean;
  journal?: { depth: number; dead: number };
}

/** A flush succeeded when the journal is empty afterwards (or it delivered something and only new records wait). */
function flushExit(data: unknown): number {
  const f = data as FlushAnswer;
  if (!f.ok) return 1;
  return (f.journal?.depth ?? 0) === 0 || (f.delivered ?? 0) > 0 ? 0 : 1;
}
