/**
 * Config errors a technician can act on: which source the bad value came from (the file, or an environment
 * variable that overrides it), the rule it breaks in words (the allowed values, the minimum length) instead of
 * a schema library's "Expected union value", and where a JSON syntax error sits (line and column).
 */
import type { ValueError } from '@sinclair/typebox/value';

type Schema = Record<string, unknown>;

/** The schema in words: `one of "connected", "hybrid", "offline"`, `a string of at least 16 characters or null`. */
export function describeSchema(s: Schema): string {
  const anyOf = s.anyOf as Schema[] | undefined;
  if (Array.isArray(anyOf)) {
    if (anyOf.every((a) => a.const !== undefined)) return `one of ${anyOf.map((a) => JSON.stringify(a.const)).join(', ')}`;
    return anyOf.map(describeSchema).join(' or ');
  }
  if (s.const !== undefined) return JSON.stringify(s.const);
  switch (s.type) {
    case 'string': {
      const rules: string[] = [];
      if (typeof s.minLength === 'number' && typeof s.maxLength === 'number') rules.push(`of ${s.minLength} to ${s.maxLength} characters`);
      else if (typeof s.minLength === 'number' && s.minLength > 1) rules.push(`of at least ${s.minLength} characters`);
      else if (typeof s.minLength === 'number') rules.push('that is not empty');
      else if (typeof s.maxLength === 'number') rules.push(`of at most ${s.maxLength} characters`);
      if (typeof s.pattern === 'string') rules.push(`matching ${s.pattern}`);
      if (typeof s.format === 'string') rules.push(`in ${s.format} format`);
      return ['a string', ...rules].join(' ');
    }
    case 'integer':
    case 'number': {
      const kind = s.type === 'integer' ? 'an integer' : 'a number';
      const min = s.minimum ?? s.exclusiveMinimum;
      const max = s.maximum ?? s.exclusiveMaximum;
      if (typeof min === 'number' && typeof max === 'number') return `${kind} from ${min} to ${max}`;
      if (typeof min === 'number') return `${kind} of at least ${min}`;
      if (typeof max === 'number') return `${kind} of at most ${max}`;
      return kind;
    }
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'null';
    case 'array':
      return 'a list';
    case 'object':
      return 'an object';
    default:
      return 'a valid value';
  }
}

/** A short rendering of the offending value (never a whole object; a secret-looking key's value is not shown). */
function shown(path: string, v: unknown): string {
  if (/token|password|key/i.test(path)) return 'the value given';
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 40 ? `${text.slice(0, 37)}…` : text;
}

/**
 * One schema error in words. `envOf` names the environment variable that set a path (README "Configuration",
 * env column), so a bad `STOREGATE_MODE` is reported as such rather than against the config file.
 */
export function explainSchemaError(e: ValueError, envOf: (path: string) => string | undefined): { path: string; message: string } {
  const path = e.path || '/';
  const env = envOf(path);
  const from = env ? ` (from environment variable ${env})` : '';
  // A missing property or an unknown one keeps the library's words, which already say what is wrong.
  if (e.message.startsWith('Expected required property')) return { path, message: `is required${from}` };
  if (e.message.startsWith('Unexpected property')) return { path, message: 'is not a config key (a typo? the keys are listed in config/schema.json)' };
  return { path, message: `must be ${describeSchema(e.schema as Schema)}, not ${shown(path, e.value)}${from}` };
}
