// Declarations for the two undici modules imported directly (see src/upstream/undici-parts.ts).
declare module 'undici/lib/dispatcher/pool.js' {
  import type { Pool } from 'undici';
  const PoolImpl: typeof Pool;
  export default PoolImpl;
}
declare module 'undici/lib/core/errors.js' {
  import type { errors } from 'undici';
  const errorsImpl: typeof errors;
  export default errorsImpl;
}
