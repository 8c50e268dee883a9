import type { ValidateFunction } from 'ajv';
import type { Problem } from './rules.js';

const ID = 'https://storegate.local/talon-answers.json';

/**
 * Talon.One's answer schemas (generated from its Integration API spec by scripts/gen-talon-response-schemas.ts),
 * compiled with ajv — the validator fastify already uses for request bodies — once, the first time checking is
 * on: a gateway that does not check answers never loads the schemas (~80 KB of JSON), compiles them (~100 models)
 * or holds the validators.
 */
export class AnswerSchemas {
  readonly #roots = new Map<string, ValidateFunction>();
  readonly #props = new Map<string, ValidateFunction | null>();
  #ready: Promise<void> | null = null;

  /** Compiles the validators (idempotent). Until it resolves, `ready` is false and answers are not schema-checked. */
  load(): Promise<void> {
    this.#ready ??= (async () => {
      const { Ajv } = await import('ajv');
      const schemas = (await import('./talon-response-schemas.json', { with: { type: 'json' } })).default;
      // Not strict (the spec uses keywords ajv does not know); one error per answer is enough to refuse it.
      const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false, code: { optimize: 1 } });
      ajv.addSchema({ $id: ID, definitions: schemas.definitions });
      for (const [op, ref] of Object.entries(schemas.roots)) this.#roots.set(op, ajv.compile({ $ref: `${ID}${ref}` }));
      for (const [type, ref] of Object.entries(schemas.effectTypes)) this.#props.set(type, ref === null ? null : ajv.compile({ $ref: `${ID}${ref}` }));
    })();
    return this.#ready;
  }

  get ready(): boolean {
    return this.#roots.size > 0;
  }

  /** One of the effect types Talon.One documents (before the schemas are loaded: not judged). */
  knownEffectType(type: string): boolean {
    return !this.ready || this.#props.has(type);
  }

  /** Schema problems of a parsed answer to `op` (empty when it matches, or when `op` has no schema here). */
  check(op: string, answer: unknown): Problem[] {
    const validate = this.#roots.get(op);
    if (validate === undefined) return [];
    if (!validate(answer)) return [problem('', validate)];
    const effects = (answer as { effects?: unknown }).effects;
    if (!Array.isArray(effects)) return [];
    const out: Problem[] = [];
    effects.forEach((e: { effectType?: unknown; props?: unknown }, i) => {
      const v = typeof e.effectType === 'string' ? this.#props.get(e.effectType) : undefined;
      if (v && !v(e.props)) out.push(problem(`/effects/${i}/props`, v));
    });
    return out;
  }
}

function problem(base: string, v: ValidateFunction): Problem {
  const e = v.errors?.[0];
  const at = `${base}${e?.instancePath ?? ''}`;
  return { rule: 'schema', path: at === '' ? '/' : at, message: e ? `${at === '' ? 'the answer' : at} ${e.message ?? 'is invalid'}` : 'does not match the schema' };
}
