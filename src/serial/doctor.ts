import { SerialPortError, openSerialDevice, type OpenDevice } from './device.js';

/** One line of `storegate doctor`. */
export interface SerialCheck {
  name: string;
  status: 'ok' | 'warn' | 'fail';
  reason: string;
  /** The errno name behind a failure (`ENOENT`, `EACCES`, `EBUSY`, `ENOTTY`, `ELOAD`, `EIO`). */
  code?: string;
}

/**
 * Checks one configured serial port the way the daemon will use it: the path exists and is a serial
 * device, this user may read and write it (the `dialout` group), and it opens (then it is closed again at once).
 * A port another process holds (the running daemon, a terminal program) is a warning, not a failure: it exists
 * and opens for whoever holds it.
 */
export async function checkSerialPort(
  port: { id: string; path: string; baudRate: number },
  open: OpenDevice = openSerialDevice,
): Promise<SerialCheck> {
  const name = `serial ${port.id}`;
  try {
    const dev = await open(port.path, port.baudRate);
    await dev.close();
    return { name, status: 'ok', reason: `${port.path} opens at ${port.baudRate} baud` };
  } catch (err) {
    if (err instanceof SerialPortError) {
      if (err.code === 'EBUSY') return { name, status: 'warn', reason: `${err.message} (the running daemon holds it while it serves the scanner)`, code: err.code };
      return { name, status: 'fail', reason: err.message, code: err.code };
    }
    return { name, status: 'fail', reason: `${port.path}: ${(err as Error).message}`, code: 'EIO' };
  }
}
