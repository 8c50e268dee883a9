import { EvalError, type EvalCtx } from './context.js';
import { compilePath, Invalid, num, Unsupported, type Getter, type PathEnv } from './paths.js';
import { snap } from './money.js';

/**
 * `{{expression}}` values of the Rule Builder (`"{{$Session.CartTotal * 0.1}}"`). Supported grammar:
 * numbers, quoted strings, attribute paths, `+ - * /`, unary minus and parentheses. Anything else makes
 * the campaign not offline-capable.
 */

type Tok = { k: 'num'; v: number } | { k: 'str'; v: string } | { k: 'path'; v: string } | { k: 'op'; v: string };

const MAX_EXPR = 2000;

function lex(src: string): Tok[] {
  if (src.length > MAX_EXPR) throw new Unsupported('expression too long');
  const out: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\n') { i++; continue; }
    if ('+-*/()'.includes(c)) { out.push({ k: 'op', v: c }); i++; continue; }
    const m = /^(\d+(?:\.\d+)?)/.exec(src.slice(i));
    if (m) { out.push({ k: 'num', v: Number(m[1]) }); i += (m[1] as string).length; continue; }
    const p = /^(\$[A-Za-z_][A-Za-z0-9_.]*)/.exec(src.slice(i));
    if (p) { out.push({ k: 'path', v: (p[1] as string).replace(/\.$/, '') }); i += (p[1] as string).length; continue; }
    if (c === '"' || c === "'") {
      const end = src.indexOf(c, i + 1);
      if (end < 0) throw new Unsupported('unterminated string in expression');
      out.push({ k: 'str', v: src.slice(i + 1, end) });
      i = end + 1;
      continue;
    }
    throw new Unsupported(`unsupported token ${JSON.stringify(c)} in expression {{${src}}}`);
  }
  return out;
}

/** Compiles one expression (the text between `{{` and `}}`). */
export function compileExpr(src: string, env: PathEnv, where: string): Getter {
  const toks = lex(src);
  let pos = 0;
  let depth = 0;
  const peek = () => toks[pos];
  const expr = (): Getter => {
    if (++depth > 32) throw new Unsupported('expression nested too deeply');
    let left = term();
    for (let t = peek(); t && t.k === 'op' && (t.v === '+' || t.v === '-'); t = peek()) {
      pos++;
      const l = left, r = term(), op = t.v;
      left = op === '+'
        ? (ctx) => { const a = l(ctx), b = r(ctx); return typeof a === 'string' || typeof b === 'string' ? `${String(a)}${String(b)}` : snap(num(a) + num(b)); }
        : (ctx) => snap(num(l(ctx)) - num(r(ctx)));
    }
    depth--;
    return left;
  };
  const term = (): Getter => {
    let left = factor();
    for (let t = peek(); t && t.k === 'op' && (t.v === '*' || t.v === '/'); t = peek()) {
      pos++;
      const l = left, r = factor(), op = t.v;
      left = op === '*'
        ? (ctx) => snap(num(l(ctx)) * num(r(ctx)))
        : (ctx) => { const d = num(r(ctx)); if (d === 0) throw new EvalError('division by zero'); return snap(num(l(ctx)) / d); };
    }
    return left;
  };
  const factor = (): Getter => {
    const t = toks[pos++];
    if (!t) throw new Unsupported(`incomplete expression {{${src}}}`);
    if (t.k === 'num') { const v = t.v; return () => v; }
    if (t.k === 'str') { const v = t.v; return () => v; }
    if (t.k === 'path') return compilePath(t.v, env, where);
    if (t.v === '-') { const f = factor(); return (ctx) => -num(f(ctx)); }
    if (t.v === '(') {
      const e = expr();
      const close = toks[pos++];
      if (!close || close.k !== 'op' || close.v !== ')') throw new Unsupported(`missing ) in {{${src}}}`);
      return e;
    }
    throw new Unsupported(`unexpected ${t.v} in {{${src}}}`);
  };
  const g = expr();
  if (pos !== toks.length) throw new Unsupported(`unsupported expression {{${src}}}`);
  return g;
}

const WHOLE = /^\s*\{\{([\s\S]*)\}\}\s*$/;

/** A numeric block value: a number, a numeric string, or a `"{{expression}}"` string. */
export function compileNumber(v: unknown, env: PathEnv, where: string): (ctx: EvalCtx) => number {
  if (typeof v === 'number' && Number.isFinite(v)) return () => v;
  if (typeof v === 'string') {
    const m = WHOLE.exec(v);
    if (m) {
      const g = compileExpr(m[1] as string, env, where);
      return (ctx) => num(g(ctx), where);
    }
    const n = Number(v);
    if (v.trim() !== '' && Number.isFinite(n)) return () => n;
  }
  throw new Invalid(where, `expected a number or "{{expression}}", got ${JSON.stringify(v)}`);
}

/** A text with `{{expression}}` placeholders (notification bodies); numbers print as-is. */
export function compileText(v: unknown, env: PathEnv, where: string): (ctx: EvalCtx) => string {
  if (v === undefined || v === null) return () => '';
  if (typeof v !== 'string') throw new Invalid(where, 'expected a string');
  if (!v.includes('{{')) return () => v;
  const parts: ((ctx: EvalCtx) => string)[] = [];
  const re = /\{\{([\s\S]*?)\}\}/g;
  let last = 0;
  for (let m = re.exec(v); m; m = re.exec(v)) {
    const lit = v.slice(last, m.index);
    parts.push(() => lit);
    const g = compileExpr(m[1] as string, env, where);
    parts.push((ctx) => { const x = g(ctx); return x === undefined || x === null ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x); });
    last = m.index + m[0].length;
  }
  const tail = v.slice(last);
  parts.push(() => tail);
  return (ctx) => parts.map((p) => p(ctx)).join('');
}
