import { adminCall } from './daemon-client.js';

/**
 * `storegate journal stats|list|dead|flush`: asks the running daemon (the journal has one writer, the daemon,
 * so the CLI never opens the files itself while it runs).
 */
export async function journalCommand(sub: string | undefined, opts: { url: string; adminToken: string | null; json: boolean }): Promise<number> {
  const paths: Record<string, ['GET' | 'POST', string]> = {
    stats: ['GET', '/admin/journal/stats'],
    list: ['GET', '/admin/journal/list?limit=1000'],
    dead: ['GET', '/admin/journal/dead'],
    flush: ['POST', '/admin/journal/flush'],
  };
  const route = sub ? paths[sub] : undefined;
  if (!route) {
    console.error('usage: storegate journal stats|list|dead|flush [--config FILE] [--url URL] [--json]');
    return 2;
  }
  let data: unknown;
  try {
    data = await adminCall(opts.url, opts.adminToken, route[0], route[1], sub === 'flush' ? 120_000 : 10_000);
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  if (opts.json) {
    console.log(JSON.stringify(data, null, 2));
    return 0;
  }
  if (sub === 'stats') {
    const s = data as Record<string, number>;
    console.log(`depth ${s.depth} undelivered, oldest ${s.oldestAgeSec} s, ${s.bytes} bytes in ${s.segments} segment(s), ${s.dead} dead letter(s), last seq ${s.lastSeq}`);
  } else if (sub === 'list' || sub === 'dead') {
    const rows = data as Record<string, unknown>[];
    if (rows.length === 0) console.log(sub === 'dead' ? 'no dead letters' : 'journal empty');
    for (const r of rows) {
      const extra = sub === 'dead' ? ` → HTTP ${String(r.status)} ${JSON.stringify(r.upstreamBody)}` : '';
      console.log(`#${String(r.seq)} ${String(r.at)} ${String(r.kind)} ${String(r.key)} id=${String(r.id)}${extra}`);
    }
  } else {
    console.log(JSON.stringify(data));
  }
  return 0;
}
