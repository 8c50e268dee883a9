import { describe, expect, it } from 'vitest';
import * as undici from 'undici';
import { Pool, undiciErrors } from '../../src/upstream/undici-parts.js';

describe('undici parts imported directly', () => {
  it('are the very classes undici exports (so a version bump that moves them fails here, not in a shop)', () => {
    expect(Pool).toBe(undici.Pool);
    expect(undiciErrors).toBe(undici.errors);
    expect(typeof undiciErrors.ConnectTimeoutError).toBe('function');
    expect(typeof undiciErrors.SocketError).toBe('function');
  });
});
