import { describe, expect, it } from 'vitest';
import { TerminalAuth, checkAdminToken, sha256Hex } from '../../src/http/auth.js';
import { terminalKey } from '../../src/cli/keys.js';

describe('terminal auth', () => {
  const auth = new TerminalAuth([
    { id: 'T1', tokenSha256: sha256Hex('token-one') },
    { id: 'T2', tokenSha256: sha256Hex('token-two') },
  ]);

  it('maps an ApiKey-v1 token to its terminal', () => {
    expect(auth.authenticate('ApiKey-v1 token-one')).toBe('T1');
    expect(auth.authenticate('apikey-v1 token-two')).toBe('T2');
  });

  it('refuses missing, malformed, unknown and wrong-scheme credentials', () => {
    for (const h of [undefined, '', 'ApiKey-v1', 'ApiKey-v1 ', 'Bearer token-one', 'ApiKey-v1 token-three', 'token-one']) {
      expect(auth.authenticate(h)).toBeNull();
    }
  });

  it('checks a token for one given terminal', () => {
    expect(auth.authenticateAs('ApiKey-v1 token-one', 'T1')).toBe(true);
    expect(auth.authenticateAs('ApiKey-v1 token-one', 'T2')).toBe(false);
  });

  it('accepts what `storegate keys terminal` prints', () => {
    const out = terminalKey('T9');
    const token = out.split('\n')[1]?.trim() as string;
    const line = JSON.parse(out.split('\n')[3]?.trim() as string) as { id: string; tokenSha256: string };
    expect(line.id).toBe('T9');
    expect(new TerminalAuth([line]).authenticate(`ApiKey-v1 ${token}`)).toBe('T9');
  });
});

describe('admin token', () => {
  it('needs Bearer and the exact token; a gateway without one is closed', () => {
    expect(checkAdminToken('Bearer admin-secret-123456', 'admin-secret-123456')).toBe(true);
    expect(checkAdminToken('Bearer admin-secret-12345', 'admin-secret-123456')).toBe(false);
    expect(checkAdminToken('ApiKey-v1 admin-secret-123456', 'admin-secret-123456')).toBe(false);
    expect(checkAdminToken(undefined, 'admin-secret-123456')).toBe(false);
    expect(checkAdminToken('Bearer anything', null)).toBe(false);
  });
});
