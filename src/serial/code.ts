/**
 * One framed line → the code it carries, or why it is dropped. Nothing that fails here is forwarded: a
 * corrupted code (wrong baud rate, line noise at plug-in, a scanner configured to send control sequences)
 * must never reach a terminal as if it had been scanned.
 */

export type CodeDrop = 'garbage' | 'control_chars' | 'empty';

export interface CleanOptions {
  /** Strip a leading AIM symbology identifier (`]` + symbology letter + modifier, ISO/IEC 15424). */
  aim: boolean;
  /** Literal prefixes to remove (the first that matches). */
  stripPrefixes: readonly string[];
}

export type CleanResult = { code: string; symbology?: string } | { drop: CodeDrop };

const utf8 = new TextDecoder('utf-8', { fatal: true });
/**
 * C0 controls except GS (0x1D), DEL and C1 controls. GS is kept: it is the FNC1 field separator GS1-128 and
 * GS1 DataMatrix codes carry between variable-length application identifiers.
 */
const CONTROL = /[\u0000-\u001c\u001e\u001f\u007f-\u009f]/;
const AIM_ID = /^\][A-Za-z][0-9A-Za-z]/;

export function cleanCode(line: Buffer, opts: CleanOptions): CleanResult {
  let text: string;
  try {
    // Valid UTF-8 only: noise and baud-rate mismatches give byte sequences that are not (0xFF, lone continuation bytes).
    text = utf8.decode(line);
  } catch {
    return { drop: 'garbage' };
  }
  if (CONTROL.test(text)) return { drop: 'control_chars' };
  let symbology: string | undefined;
  if (opts.aim) {
    const m = AIM_ID.exec(text);
    if (m) {
      symbology = m[0];
      text = text.slice(3);
    }
  }
  for (const p of opts.stripPrefixes) {
    if (text.startsWith(p)) {
      text = text.slice(p.length);
      break;
    }
  }
  if (text.trim().length === 0) return { drop: 'empty' };
  return symbology === undefined ? { code: text } : { code: text, symbology };
}
