/**
 * The serial port check `storegate doctor` runs for each configured port (src/serial/doctor.ts), against real
 * ptys: present and openable, absent, not a serial device, held by the running daemon, and — as an unprivileged
 * user outside the device's group, the `dialout` case — permission denied with the fix in the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { APP_DIR } from '../../src/config/load.js';
import { checkSerialPort } from '../../src/serial/doctor.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { PtyPair } from '../helpers/pty.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);
const dir = mkdtempSync(path.join(tmpdir(), 'sg-serial-doctor-'));
const free = new PtyPair(dir, 'free');
const held = new PtyPair(dir, 'held');
let gw: TestGateway;

beforeAll(async () => {
  await Promise.all([free.plug(), held.plug()]);
  gw = await startGateway({ serial: [{ id: 'held', path: held.device, role: 'priceCheck' }] });
  await until(() => (gw.gateway.status().serial as { open: boolean }[])[0]?.open === true);
});

afterAll(async () => {
  await gw?.stop();
  await Promise.all([free.unplug(), held.unplug()]);
});

describe('serial port check', () => {
  it('ok for a present, openable port', async () => {
    expect(await checkSerialPort({ id: 'free', path: free.device, baudRate: 9600 })).toMatchObject({ name: 'serial free', status: 'ok' });
  });

  it('fails for a missing path or a file that is not a serial device, saying which', async () => {
    const missing = await checkSerialPort({ id: 'gone', path: path.join(dir, 'nothing'), baudRate: 9600 });
    expect(missing).toMatchObject({ status: 'fail', code: 'ENOENT', reason: expect.stringMatching(/does not exist.*by-id/) });
    const file = await checkSerialPort({ id: 'file', path: path.join(APP_DIR, 'package.json'), baudRate: 9600 });
    expect(file).toMatchObject({ status: 'fail', code: 'ENOTTY' });
  });

  it('warns (not fails) for a port the running daemon holds', async () => {
    const r = await checkSerialPort({ id: 'held', path: held.device, baudRate: 9600 });
    expect(r).toMatchObject({ status: 'warn', code: 'EBUSY' });
  });

  it.skipIf(process.getuid?.() !== 0)('names the dialout group when the user may not open the device', async () => {
    // The pty is root's, mode 0600; the check runs as "nobody" (uid 65534), as a daemon user outside dialout would.
    chmodSync(realpathSync(free.device), 0o600);
    chmodSync(dir, 0o755);
    const code = `const m = await import(${JSON.stringify(path.join(APP_DIR, 'src', 'serial', 'doctor.ts'))});
      console.log(JSON.stringify(await m.checkSerialPort({ id: 'free', path: process.argv[1], baudRate: 9600 })));`;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, free.device], {
      cwd: APP_DIR,
      uid: 65534,
      gid: 65534,
      env: { PATH: process.env.PATH ?? '', HOME: tmpdir() },
    });
    const r = JSON.parse(stdout.trim().split('\n').pop() as string) as { status: string; code: string; reason: string };
    expect(r).toMatchObject({ status: 'fail', code: 'EACCES' });
    expect(r.reason).toMatch(/permission denied.*dialout/);
  });
});
