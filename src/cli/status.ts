import { adminCall, type DaemonTarget } from './daemon-client.js';

/** `storegate status [--url URL] [--json]`: the running daemon's /status, in words or JSON. */
export async function statusCommand(opts: { url: string | DaemonTarget; adminToken: string | null; json: boolean; configSource?: string }): Promise<number> {
  let data: unknown;
  try {
    data = await adminCall(opts.url, opts.adminToken, 'GET', '/status', 3000, undefined, opts.configSource);
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  }
  console.log(opts.json ? JSON.stringify(data, null, 2) : describe(data as Record<string, unknown>).join('\n'));
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
