/**
 * RFC 4180 CSV, as Talon.One's exports write it (`export_customer_balances`, `export_card_balances`): a header
 * row, comma-separated fields, a field holding a comma, quote or line break in double quotes with quotes doubled,
 * CRLF or LF line ends. No CSV library is among the project's dependencies, and this subset is small.
 */

/** Rows as objects keyed by the header row's names; blank lines are skipped. */
export function parseCsv(text: string): Record<string, string>[] {
  const rows = parseRows(text);
  const header = rows.shift();
  if (!header) return [];
  const out: Record<string, string>[] = [];
  for (const r of rows) {
    if (r.length === 1 && r[0] === '') continue;
    const o: Record<string, string> = {};
    header.forEach((h, i) => (o[h.trim()] = r[i] ?? ''));
    out.push(o);
  }
  return out;
}

export function parseRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let i = 0;
  const n = text.length;
  let quoted = false;
  while (i < n) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      row.push(field);
      field = '';
      i++;
    } else if (ch === '\n' || ch === '\r') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i += ch === '\r' && text[i + 1] === '\n' ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
