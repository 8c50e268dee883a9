/** `storegate status [--url URL] [--json]`: the running daemon's /status, in words or JSON. */
export async function statusCommand(opts: { url: string; adminToken: string | null; json: boolean }): Promise<number> {
  let res: Response;
  try {
    res = await fetch(new URL('/status', opts.url), {
      headers: opts.adminToken ? { authorization: `Bearer ${opts.adminToken}` } : {},
      signal: AbortSignal.timeout(3000),
    });
  } catch (err) {
    console.error(`storegate is not answering at ${opts.url}: ${(err as Error).message}`);
    return 1;
  }
  const text = await res.text();
  if (!res.ok) {
    console.error(`status: HTTP ${res.status} ${res.status === 401 ? '(set STOREGATE_ADMIN_TOKEN or adminToken in the config)' : text}`);
    return 1;
  }
  if (opts.json) {
    console.log(text);
    return 0;
  }
  console.log(describe(JSON.parse(text) as Record<string, unknown>).join('\n'));
  return 0;
}

function describe(s: Record<string, unknown>, indent = ''): string[] {
  const lines: string[] = [];
  for (const [k, v] of Object.entries(s)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      lines.push(`${indent}${k}:`, ...describe(v as Record<string, unknown>, `${indent}  `));
    } else if (Array.isArray(v)) {
      lines.push(`${indent}${k}: ${v.length === 0 ? 'none' : ''}`);
      for (const item of v) lines.push(`${indent}  - ${typeof item === 'object' ? JSON.stringify(item) : String(item)}`);
    } else {
      lines.push(`${indent}${k}: ${v === null ? '—' : String(v)}`);
    }
  }
  return lines;
}
