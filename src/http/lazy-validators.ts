/**
 * Route validators compiled on first use instead of before the server listens.
 *
 * fastify compiles every route's body schema while the app gets ready, and the terminal routes' schemas are
 * Talon.One's request schemas (src/http/talon-request-schemas.json, one shared schema of many definitions): Ajv
 * generating and compiling those validators was a fifth of the CPU of an empty start (a CPU profile of the
 * single binary's start, README "Benchmarks", **startup**). Here fastify's own compiler (@fastify/ajv-compiler,
 * with the app's Ajv options and the shared schemas, as before) runs for a route the first time a request of it
 * is validated, or when `warm()` gets to it: the daemon warms them one per event-loop turn shortly after it
 * listens, so a shop's first sale does not pay for them and the start does not wait for them. What a validator
 * accepts, refuses and reports is unchanged.
 */
import AjvCompiler from '@fastify/ajv-compiler';

type BuildCompiler = ReturnType<typeof AjvCompiler>;
type Compile = ReturnType<BuildCompiler>;
type RouteDefinition = Parameters<Compile>[0];
type Validator = ReturnType<Compile>;

export interface LazyValidators {
  /** For fastify's `schemaController.compilersFactory.buildValidator`. */
  buildValidator: BuildCompiler;
  /** Compiles what is still uncompiled, one validator per event-loop turn; resolves when all are. */
  warm(): Promise<void>;
  /** Validators not compiled yet (for tests). */
  pending(): number;
}

export function lazyValidators(): LazyValidators {
  const build = AjvCompiler();
  const uncompiled = new Set<() => Validator>();

  const buildValidator = ((externalSchemas: Parameters<BuildCompiler>[0], options: Parameters<BuildCompiler>[1]) => {
    // The Ajv instance itself (and the shared schemas' meta-schema check) is made with the first validator.
    let compiler: Compile | undefined;
    return (route: RouteDefinition): Validator => {
      let fn: Validator | undefined;
      const compiled = (): Validator => {
        if (fn === undefined) {
          compiler ??= build(externalSchemas, options);
          fn = compiler(route);
          uncompiled.delete(compiled);
        }
        return fn;
      };
      uncompiled.add(compiled);
      // fastify calls the validator, then reads `errors` (and looks for `schemaEnv`) on it: both are the compiled
      // function's own, read after it ran.
      const validate = ((data: unknown, context: unknown) => ((fn ?? compiled()) as (d: unknown, c: unknown) => unknown)(data, context)) as unknown as Validator;
      Object.defineProperty(validate, 'errors', { get: () => (compiled() as { errors?: unknown }).errors, enumerable: true });
      Object.defineProperty(validate, 'schemaEnv', { get: () => (compiled() as { schemaEnv?: unknown }).schemaEnv, enumerable: true });
      return validate;
    };
  }) as BuildCompiler;

  /** One validator that does not compile does not keep the others cold: the first error is thrown at the end. */
  const warm = async (): Promise<void> => {
    let first: unknown;
    for (const compiled of [...uncompiled]) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        compiled();
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  };
  return { buildValidator, warm, pending: () => uncompiled.size };
}
