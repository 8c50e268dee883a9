import { execFileSync } from 'node:child_process';
import { APP_DIR } from './config/load.js';
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;

let commit: string | undefined;

/** The git commit this build came from: baked in by the binary build (`STOREGATE_GIT_COMMIT`), else asked of git. */
export function gitCommit(): string {
  if (commit !== undefined) return commit;
  commit = process.env.STOREGATE_GIT_COMMIT ?? '';
  if (!commit) {
    try {
      commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: APP_DIR, stdio: ['ignore', 'pipe', 'ignore'] })
        .toString()
        .trim();
    } catch {
      commit = 'unknown';
    }
  }
  return commit;
}
