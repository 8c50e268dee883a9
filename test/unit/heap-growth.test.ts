/**
 * src/platform/heap-growth.ts: the daemon's slow heap growth is set at run time (once its modules are loaded), not
 * on the command line. Checked against V8 itself: the same workload (objects kept and dropped in halves) runs in
 * processes with and without `applyHeapGrowth()`; with 15% growth V8 sets lower limits, so it runs more full
 * (mark-compact) GCs, as it does with the flag on the command line.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const MODULE = path.join(ROOT, 'src', 'platform', 'heap-growth.ts');

function run(mode: 'applied' | 'own' | 'command line'): { majors: number } {
  const script = `
    import { PerformanceObserver, constants } from 'node:perf_hooks';
    const { applyHeapGrowth } = await import(${JSON.stringify(MODULE)});
    if (${mode === 'applied'}) applyHeapGrowth();
    let majors = 0;
    const obs = new PerformanceObserver((l) => { for (const e of l.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) majors++; });
    obs.observe({ entryTypes: ['gc'] });
    let keep = [];
    for (let i = 0; i < 2_000_000; i++) { keep.push({ a: i, b: 'x' + i }); if (keep.length > 400_000) keep = keep.slice(200_000); }
    setTimeout(() => { obs.disconnect(); console.log(JSON.stringify({ majors })); }, 100);
  `;
  const flags = mode === 'command line' ? ['--heap-growing-percent=15'] : [];
  const out = execFileSync(process.execPath, [...flags, '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() as string) as { majors: number };
}

describe('applyHeapGrowth', () => {
  it('makes V8 grow the heap as --heap-growing-percent=15 on the command line does, and not as it would on its own', () => {
    const own = run('own');
    const applied = run('applied');
    const commandLine = run('command line');
    expect(applied.majors).toBeGreaterThan(own.majors);
    // The command line also slows the growth of the start before it (here: loading tsx): at least as many.
    expect(commandLine.majors).toBeGreaterThan(own.majors);
  }, 60_000);
});
