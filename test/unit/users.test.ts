import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { serviceUserGroups } from '../../src/cli/users.js';

describe('serviceUserGroups (doctor: may the service user open a scanner?)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-users-'));
  const files = { passwd: path.join(dir, 'passwd'), group: path.join(dir, 'group') };
  writeFileSync(files.passwd, 'root:x:0:0:root:/root:/bin/bash\nstoregate:x:998:997::/var/lib/storegate:/usr/sbin/nologin\n');
  writeFileSync(files.group, 'root:x:0:\ndialout:x:20:alice,storegate\ntty:x:5:\nstoregate:x:997:\n');

  it('has the primary group and the groups listing the user', () => {
    const g = serviceUserGroups('storegate', files);
    expect(g && [...g.gids].sort((a, b) => a - b)).toEqual([20, 997]);
    expect(g?.nameOf(5)).toBe('tty');
  });

  it('is null for a user that does not exist here', () => {
    expect(serviceUserGroups('nobody-here', files)).toBeNull();
  });
});
