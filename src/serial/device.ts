/**
 * The serial device adapter: the only module that imports `serialport` (its native binding is the one piece the
 * single-binary build has to provide separately). Everything else in src/serial talks to {@link SerialDevice}.
 *
 * `serialport` is imported on first use, not at load: a daemon with no scanner configured never loads the native
 * binding, and one whose binding cannot load reports that as the port's error (in `/status`) instead of failing
 * to start.
 */
import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';

export interface SerialDevice {
  onData(fn: (chunk: Buffer) => void): void;
  /** The device closed: `err` for a disconnect or read failure, null for our own close. Called once. */
  onClose(fn: (err: Error | null) => void): void;
  write(data: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** How ports are opened (the real one below; tests of the port's life cycle pass their own). */
export type OpenDevice = (path: string, baudRate: number) => Promise<SerialDevice>;

/**
 * Why a port could not be opened, as an errno name a technician can search for: `ENOENT` (not plugged in, or
 * another path), `EACCES` (the daemon's user may not open it: not in the `dialout` group), `EBUSY` (another
 * process holds it), `ENOTTY` (not a serial device), `ELOAD` (the serial support itself failed to load), `EIO`.
 */
export type SerialErrorCode = 'ENOENT' | 'EACCES' | 'EBUSY' | 'ENOTTY' | 'ELOAD' | 'EIO';

export class SerialPortError extends Error {
  readonly code: SerialErrorCode;
  constructor(code: SerialErrorCode, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'SerialPortError';
    this.code = code;
  }
}

/** What to tell a technician for each failure (shown in `/status`, the log and `storegate doctor`). */
export function explain(code: SerialErrorCode, path: string): string {
  switch (code) {
    case 'ENOENT':
      return `${path} does not exist (unplugged, or another path: see ls -l /dev/serial/by-id/)`;
    case 'EACCES':
      return `permission denied opening ${path}: the daemon's user must be in the group owning the device (usually dialout: usermod -aG dialout storegate, then restart the service)`;
    case 'EBUSY':
      return `${path} is in use by another process (it holds the port's exclusive lock)`;
    case 'ENOTTY':
      return `${path} is not a serial device`;
    case 'ELOAD':
      return 'the serial support (serialport native binding) could not be loaded';
    default:
      return `${path} failed (I/O error)`;
  }
}

type SerialPortCtor = typeof import('serialport').SerialPort;
let loading: Promise<SerialPortCtor> | null = null;

function loadSerialPort(): Promise<SerialPortCtor> {
  loading ??= import('serialport').then((m) => m.SerialPort);
  // A failed load is not cached: the next attempt (the port's next reopen) tries again.
  loading.catch(() => (loading = null));
  return loading;
}

/** The errno name of an fs error, narrowed to ours. */
function errnoOf(err: unknown): SerialErrorCode {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'ENOENT';
  if (code === 'EACCES' || code === 'EPERM') return 'EACCES';
  if (code === 'EBUSY') return 'EBUSY';
  return 'EIO';
}

/**
 * The checks an open would fail on, with a proper errno (the native binding reports its failures as text only):
 * the path exists, is a character device, and this process may read and write it.
 */
export async function precheck(path: string): Promise<void> {
  try {
    const st = await stat(path);
    if (!st.isCharacterDevice()) throw new SerialPortError('ENOTTY', explain('ENOTTY', path));
    await access(path, constants.R_OK | constants.W_OK);
  } catch (err) {
    if (err instanceof SerialPortError) throw err;
    const code = errnoOf(err);
    throw new SerialPortError(code, explain(code, path), err);
  }
}

/** The binding's open failure text (`Error: <strerror>, cannot open <path>`, or a lock failure) → errno name. */
function bindingErrno(message: string): SerialErrorCode {
  if (/Permission denied|Operation not permitted/i.test(message)) return 'EACCES';
  if (/No such file|No such device/i.test(message)) return 'ENOENT';
  if (/lock|Resource temporarily unavailable|busy/i.test(message)) return 'EBUSY';
  if (/Inappropriate ioctl/i.test(message)) return 'ENOTTY';
  return 'EIO';
}

/** Opens a serial port (raw 8N1, exclusive lock, as a scanner needs) and adapts it to {@link SerialDevice}. */
export const openSerialDevice: OpenDevice = async (path, baudRate) => {
  await precheck(path);
  let SerialPort: SerialPortCtor;
  try {
    SerialPort = await loadSerialPort();
  } catch (err) {
    throw new SerialPortError('ELOAD', `${explain('ELOAD', path)}: ${(err as Error).message}`, err);
  }
  const port = new SerialPort({ path, baudRate, autoOpen: false, lock: true });
  await new Promise<void>((resolve, reject) =>
    port.open((err) => {
      if (!err) return resolve();
      const code = bindingErrno(err.message);
      reject(new SerialPortError(code, `${explain(code, path)} (${err.message})`, err));
    }),
  );
  let closeFn: ((err: Error | null) => void) | null = null;
  let closed = false;
  const onClose = (err: Error | null) => {
    if (closed) return;
    closed = true;
    closeFn?.(err);
  };
  port.on('close', (err: Error | null | undefined) => onClose(err ?? null));
  // An error event without a close (a failed write) leaves the port open; the port's path poll decides.
  port.on('error', () => undefined);
  return {
    onData: (fn) => port.on('data', fn),
    onClose: (fn) => {
      closeFn = fn;
    },
    write: (data) =>
      new Promise<void>((resolve, reject) => {
        port.write(data, (err) => (err ? reject(err) : resolve()));
      }),
    close: () =>
      new Promise<void>((resolve) => {
        if (!port.isOpen) {
          onClose(null);
          return resolve();
        }
        port.close(() => {
          onClose(null);
          resolve();
        });
      }),
  };
};

/** The device's identity now (device number and inode), or null when the path is gone: a replug changes it. */
export async function deviceIdentity(path: string): Promise<string | null> {
  try {
    const st = await stat(path);
    return `${st.rdev}:${st.ino}`;
  } catch {
    return null;
  }
}
