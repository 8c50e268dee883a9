/** Shared helpers for benchmarks: percentiles and a plain table that can be pasted into the README. */

export function percentile(sortedAsc: readonly number[], p: number): number {
  if (sortedAsc.length === 0) return Number.NaN;
  const idx = Math.min(sortedAsc.length - 1, Math.max(0, Math.ceil((p / 100) * sortedAsc.length) - 1));
  return sortedAsc[idx] as number;
}

export function summarize(samplesMs: number[]): { p50: number; p99: number; mean: number; n: number } {
  const s = [...samplesMs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / Math.max(1, s.length);
  return { p50: percentile(s, 50), p99: percentile(s, 99), mean, n: s.length };
}

export type Cell = string | number;

function fmt(c: Cell): string {
  if (typeof c === 'string') return c;
  if (!Number.isFinite(c)) return String(c);
  if (Number.isInteger(c)) return c.toLocaleString('en-US');
  return c < 10 ? c.toFixed(3) : c < 1000 ? c.toFixed(1) : Math.round(c).toLocaleString('en-US');
}

/** Prints a Markdown table (readable in a terminal, pasteable into the README). */
export function printTable(title: string, header: string[], rows: Cell[][]): void {
  const cells = [header, ...rows.map((r) => r.map(fmt))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
  for (const r of cells.slice(1)) console.log(line(r));
  console.log('');
}

/** A target line: prints PASS/MISS so a reader sees at once whether the figure meets the target. */
export function verdict(ok: boolean): string {
  return ok ? 'PASS' : 'MISS';
}
