/**
 * The groups of a system user, read from /etc/passwd and /etc/group (Node has no getgrouplist): `doctor` tells
 * a technician when the service's user cannot open a scanner's device.
 */
import { readFileSync } from 'node:fs';

export interface UserGroups {
  /** The user's primary and supplementary group ids. */
  gids: ReadonlySet<number>;
  nameOf(gid: number): string | undefined;
}

/** Null when the user does not exist here (or the files cannot be read). */
export function serviceUserGroups(user: string, files = { passwd: '/etc/passwd', group: '/etc/group' }): UserGroups | null {
  let passwd: string;
  let group: string;
  try {
    passwd = readFileSync(files.passwd, 'utf8');
    group = readFileSync(files.group, 'utf8');
  } catch {
    return null;
  }
  const entry = passwd.split('\n').find((l) => l.split(':')[0] === user);
  if (!entry) return null;
  const gids = new Set<number>([Number(entry.split(':')[3])]);
  const names = new Map<number, string>();
  for (const line of group.split('\n')) {
    const [name, , gid, members] = line.split(':');
    if (name === undefined || gid === undefined) continue;
    names.set(Number(gid), name);
    if ((members ?? '').split(',').includes(user)) gids.add(Number(gid));
  }
  return { gids, nameOf: (gid) => names.get(gid) };
}
