import { parse } from 'csv-parse/sync';

/**
 * Talon.One's loyalty exports (`export_customer_balances`, `export_card_balances`) are RFC 4180 CSV: a header row,
 * fields holding a comma, quote or line break in double quotes with quotes doubled, CRLF or LF line ends.
 * Rows come back as objects keyed by the header row's names (trimmed); blank lines are skipped; a short row lacks
 * the missing keys. Malformed CSV (an unclosed quote) throws, so the pull step fails and is retried rather than
 * pushing half a balance list.
 */
export function parseCsv(text: string): Record<string, string | undefined>[] {
  return parse(text, {
    columns: (header: string[]) => header.map((h) => h.trim()),
    skip_empty_lines: true,
    relax_column_count: true,
    bom: true,
  });
}
