/**
 * Start-up recovery: read the cursor, scan every segment in seq order, verify each record, truncate a
 * torn tail, and rebuild the in-memory index of undelivered records (and of the dead letters an older
 * storegate's cursor listed, set aside until taken over: see cursor.ts).
 */
import { join } from 'node:path';
import { StoregateError } from '../core/errors.js';
import type { Logger } from '../telemetry/logger.js';
import { CURSOR_FILE, type CursorState, type LegacyDeadInfo, EMPTY_CURSOR, RangeSet, decodeCursor } from './cursor.js';
import type { JournalFileOps, SegmentHandle } from './file-ops.js';
import { BODY_FIXED_BYTES, type BadRegion, HEADER_BYTES, type ScanResult, parseSegmentFileName } from './segment.js';
import { indexSegmentFile } from './scan-file.js';
import { RecoveredIndex } from './recovered-index.js';
import { type PayloadSource, StoredEntry } from './types.js';

/** A segment file as the journal tracks it. `live` counts its undelivered (and set-aside) records. */
export interface SegmentState {
  readonly firstSeq: number;
  readonly path: string;
  size: number;
  live: number;
}

/** Where an undelivered or set-aside entry lives (its segment cannot be deleted while it does). */
export interface Slot {
  readonly entry: StoredEntry;
  readonly seg: SegmentState;
}

export interface Recovered {
  readonly segments: SegmentState[];
  /** Undelivered records, in seq order (compact: see recovered-index.ts). */
  readonly undelivered: RecoveredIndex;
  /** Dead letters of an older storegate's cursor, by seq. */
  readonly setAside: Map<number, { slot: Slot; info: LegacyDeadInfo }>;
  readonly delivered: RangeSet;
  /** Highest seq seen in segments, cursor, or implied by the last segment's name. */
  readonly lastSeq: number;
  /** Handle on the last segment, opened for appends (after any torn tail was cut off). */
  readonly active: SegmentHandle | undefined;
  /** Length of the last segment's file: its data plus the zeros preallocated after it. */
  readonly activeFileBytes: number;
}

/**
 * @param sourceFor where a recovered record's payload is read back from: recovered entries keep no payload
 *   bytes in memory (a restart with a big backlog must not hold it all), they are read from their segment.
 */
export async function recover(
  dir: string,
  ops: JournalFileOps,
  log: Logger,
  onCorrupt: 'fail' | 'skip',
  sourceFor: (segment: SegmentState) => PayloadSource,
): Promise<Recovered> {
  await ops.ensureDir(dir);
  const names = await ops.readdir(dir);
  for (const n of names) {
    // Leftovers of a writeFileAtomic interrupted by a crash: the real cursor is intact, drop the temp.
    if (n.startsWith(`.${CURSOR_FILE}.`) && n.endsWith('.tmp')) await ops.unlink(join(dir, n)).catch(() => undefined);
  }
  const cursor = names.includes(CURSOR_FILE)
    ? decodeCursor((await ops.readFile(join(dir, CURSOR_FILE))).toString('utf8'), join(dir, CURSOR_FILE))
    : EMPTY_CURSOR;
  const delivered = RangeSet.from(cursor.delivered);
  const deadInfo = new Map<number, LegacyDeadInfo>(cursor.dead.map((d) => [d.seq, d]));
  const isDelivered = (seq: number): boolean => !deadInfo.has(seq) && (seq <= cursor.lw || delivered.has(seq));

  const segFiles = names
    .map((n) => ({ n, first: parseSegmentFileName(n) }))
    .filter((x): x is { n: string; first: number } => x.first !== undefined)
    .sort((a, b) => a.first - b.first);

  const segments: SegmentState[] = [];
  const undelivered = new RecoveredIndex();
  const setAside = new Map<number, { slot: Slot; info: LegacyDeadInfo }>();
  let lastSeq = Math.max(cursor.lw, cursor.hw);
  let prevSeq = 0;
  let active: SegmentHandle | undefined;
  let activeFileBytes = 0;

  for (let i = 0; i < segFiles.length; i++) {
    const { n, first } = segFiles[i] as { n: string; first: number };
    const path = join(dir, n);
    const isLast = i === segFiles.length - 1;
    // A bounded window at a time (scan-file.ts): a restart must not hold whole segments in memory.
    const reader = ops.openReader(path);
    let fileBytes: number;
    const seg: SegmentState = { firstSeq: first, path, size: 0, live: 0 };
    const src = sourceFor(seg);
    const segNo = undelivered.addSegment(seg, src);
    let scan: ScanResult;
    // Each good record goes straight into the index (no array of every record of the segment is held).
    const visit = (seq: number, at: number, mono: number, offset: number, size: number, key: string, kind: string): void => {
      if (seq <= prevSeq || seq < first || !Number.isSafeInteger(seq)) {
        reportCorruption(path, [{ offset, end: offset + size, reason: `seq ${seq} out of order` }], onCorrupt, log);
        return;
      }
      prevSeq = seq;
      if (seq > lastSeq) lastSeq = seq;
      if (isDelivered(seq)) return;
      seg.live += 1;
      const info = deadInfo.get(seq);
      if (!info) {
        undelivered.add(seq, at, mono, segNo, offset, size, key, kind);
        return;
      }
      // Set aside (an older storegate's dead letter, rare): an entry object as before, its payload read back.
      const { id, payloadAt } = idAndPayload(src, offset, size);
      const entry = new StoredEntry({ seq, id, key, kind, at, mono }, undefined);
      entry.locate(src, offset + payloadAt, size - payloadAt);
      setAside.set(seq, { slot: { entry, seg }, info });
    };
    try {
      fileBytes = reader.size();
      // About one record per KiB (a session update is ~1 KiB): room for them in one step; trimmed after the scan.
      undelivered.reserve(Math.ceil(fileBytes / 1024));
      scan = indexSegmentFile(reader, fileBytes, isLast, visit);
    } finally {
      reader.close();
    }
    if (scan.corrupt.length > 0) reportCorruption(path, scan.corrupt, onCorrupt, log);
    seg.size = scan.end;
    segments.push(seg);
    lastSeq = Math.max(lastSeq, first - 1);
    if (isLast) {
      active = await ops.openSegment(path);
      activeFileBytes = fileBytes;
      if (scan.tornAt !== undefined) {
        // Only the last write batch can be torn, and its appenders were never answered: safe to drop.
        log.warn(
          { file: path, offset: scan.tornAt, droppedBytes: fileBytes - scan.tornAt, droppedValidRecords: scan.droppedRecords },
          'journal: torn tail dropped (an unacknowledged write interrupted by a crash)',
        );
        try {
          await active.truncate(scan.tornAt);
          await active.datasync();
        } catch (err) {
          await active.close().catch(() => undefined);
          throw err;
        }
        seg.size = scan.tornAt;
        activeFileBytes = scan.tornAt;
      }
    }
  }
  undelivered.trim();
  for (const seq of deadInfo.keys()) {
    if (!setAside.has(seq)) log.error({ seq }, 'journal: dead letter listed in the cursor has no record; forgetting it');
  }
  return { segments, undelivered, setAside, delivered, lastSeq, active, activeFileBytes };
}

/** The id of the record at `offset` and where its payload starts in it (read back: the scan decodes no ids). */
function idAndPayload(src: PayloadSource, offset: number, size: number): { id: string; payloadAt: number } {
  const b = src.read(offset, size);
  const h = HEADER_BYTES;
  const start = h + BODY_FIXED_BYTES;
  const idLen = b.readUInt16LE(h + 2);
  return { id: b.toString('utf8', start, start + idLen), payloadAt: start + idLen + b.readUInt16LE(h + 4) + b.readUInt16LE(h + 6) };
}

function reportCorruption(path: string, regions: BadRegion[], policy: 'fail' | 'skip', log: Logger): void {
  const details = regions.map((r) => ({ path: `${path}@${r.offset}`, message: `${r.reason}; ${r.end - r.offset} bytes` }));
  if (policy === 'fail') {
    throw new StoregateError(
      'SG_ERR_JOURNAL_CORRUPT',
      `journal segment ${path} is corrupt at offset ${regions[0]?.offset} (${regions[0]?.reason}); ` +
        'its records were acknowledged, so nothing is dropped silently: stop here, copy the journal folder for inspection, ' +
        'then move that one file out of it and start again (its undelivered records will be missing: reconcile them with Talon.One)',
      { statusCode: 500, details },
    );
  }
  for (const r of regions) {
    log.error({ file: path, offset: r.offset, bytes: r.end - r.offset, reason: r.reason }, 'journal: corrupt record skipped (SG_ERR_JOURNAL_CORRUPT)');
  }
}

export type { CursorState };
