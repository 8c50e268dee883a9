import type { PriceAnswer } from './local-lookups.js';

/**
 * The text a price-check station shows: a template filled from the price-book answer and fitted to a
 * character display (customer displays of price checkers are commonly 2 × 20, ASCII only). A newline in a
 * template starts the next row; each row is cut or padded to `columns`, rows past `rows` are dropped, and the rows are
 * joined into one line — what a display with automatic wrap shows row under row.
 */
export interface DisplayOptions {
  priceTemplate: string;
  noPriceTemplate: string;
  columns: number;
  rows: number;
  /** Digits after the decimal point of the shop's currency (2 for EUR, 0 for JPY). */
  decimals: number;
}

const PLACEHOLDER = /\{(label|sku|code|price|finalPrice|was|validUntil)\}/g;

export function renderPriceLine(code: string, answer: PriceAnswer | undefined, o: DisplayOptions): string {
  const money = (n: number) => n.toFixed(o.decimals);
  const values: Record<string, string> = answer
    ? {
        label: answer.label ?? answer.sku,
        sku: answer.sku,
        code,
        price: money(answer.price),
        finalPrice: money(answer.finalPrice),
        was: answer.finalPrice < answer.price ? `(was ${money(answer.price)})` : '',
        validUntil: answer.validUntil ? answer.validUntil.slice(0, 10) : '',
      }
    : { label: code, sku: code, code, price: '', finalPrice: '', was: '', validUntil: '' };
  const template = answer ? o.priceTemplate : o.noPriceTemplate;
  const filled = template.replace(PLACEHOLDER, (_, name: string) => values[name] ?? '');
  const rows = filled.split('\n').slice(0, o.rows);
  const fitted = rows.map((r) => toAscii(r).replace(/\s+/g, ' ').trim().slice(0, o.columns));
  // The last row is not padded: trailing spaces would only push the cursor past the display's end.
  return fitted.map((r, i) => (i < fitted.length - 1 ? r.padEnd(o.columns) : r)).join('');
}

/**
 * ASCII only (character displays have no UTF-8): accents are dropped (é → e, ü → u), the euro and pound signs
 * are spelt out, anything else becomes `?`.
 */
export function toAscii(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/\u20ac/g, 'EUR')
    .replace(/\u00a3/g, 'GBP')
    .replace(/\u00df/g, 'ss')
    .replace(/[^\x20-\x7e]/g, '?');
}
