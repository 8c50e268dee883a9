/** The durable journal: append-only CRC'd segments, group-commit fdatasync, torn-tail recovery. */
export { Journal } from './journal.js';
export type {
  AppendRequest,
  LegacyDeadLetter,
  JournalEntry,
  JournalOptions,
  JournalStats,
} from './types.js';
export type { JournalFileOps, SegmentHandle } from './file-ops.js';
export { nodeFileOps } from './file-ops.js';
