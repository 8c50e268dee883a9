/**
 * `storegate version --verbose`: what this build runs on, and whether the pieces the single binary has to carry
 * itself work here — the serial addon (an embedded file written out and loaded), V8's linear-time regexp engine
 * (rule regular expressions), and the runtime flags the daemon is tuned for. A technician's first check when a
 * binary misbehaves on a new mini-PC, and the end-to-end test's proof that the binary carries them.
 */
import { isSea } from 'node:sea';
import { getHeapSpaceStatistics } from 'node:v8';
import { linearEngine } from '../engine/regex-guard.js';
import { HEAP_GROWTH_FLAGS } from '../platform/heap-growth.js';

export interface RuntimeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

function seaKind(): string {
  try {
    return isSea() ? 'single binary (Node.js SEA)' : 'node';
  } catch {
    return 'node';
  }
}

/**
 * Loads the serial addon and makes it do one native call: opening /dev/null as a serial port fails in the
 * addon's own code with "Inappropriate ioctl" (it is not a tty), which only a loaded, working addon can say.
 */
export async function serialAddonCheck(): Promise<RuntimeCheck> {
  try {
    const { autoDetect } = await import('@serialport/bindings-cpp');
    const binding = autoDetect();
    try {
      const port = await binding.open({ path: '/dev/null', baudRate: 9600, lock: false });
      await port.close();
      return { name: 'serial addon', ok: true, detail: 'loaded' };
    } catch (err) {
      const msg = (err as Error).message;
      const native = /ioctl|not a typewriter|No such file|Permission denied/i.test(msg);
      return { name: 'serial addon', ok: native, detail: native ? `loaded (native open of /dev/null: ${msg})` : msg };
    }
  } catch (err) {
    return { name: 'serial addon', ok: false, detail: `cannot be loaded: ${(err as Error).message}` };
  }
}

export async function runtimeChecks(): Promise<RuntimeCheck[]> {
  const newSpace = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  return [
    { name: 'runtime', ok: true, detail: `${seaKind()}, Node.js ${process.version}, ${process.platform}-${process.arch}` },
    { name: 'node flags', ok: true, detail: `${process.execArgv.join(' ') || '(none)'}; set by run: ${HEAP_GROWTH_FLAGS.join(' ')}` },
    { name: 'young generation', ok: true, detail: `${((newSpace?.space_size ?? 0) / 1048576).toFixed(1)} MiB now` },
    { name: 'malloc', ok: true, detail: process.env.MALLOC_MMAP_THRESHOLD_ ? `MALLOC_MMAP_THRESHOLD_=${process.env.MALLOC_MMAP_THRESHOLD_}` : 'MALLOC_MMAP_THRESHOLD_ not set (the systemd unit sets it)' },
    { name: 'linear-time regexp engine', ok: linearEngine(), detail: linearEngine() ? 'available (rule regular expressions are evaluated offline)' : 'missing: campaigns with regular expressions are not offline-capable' },
    await serialAddonCheck(),
  ];
}
