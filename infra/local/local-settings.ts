/** Where the local stack keeps its state, and the token key that survives restarts. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The data folder when none is given: `.local/` in the repository (ignored by git). */
export const DEFAULT_DATA_DIR = join(__dirname, '..', '..', '.local');
export const LOCAL_TABLE_NAME = 'tenant-lifecycle';

/** The data folder, as an absolute path: `--data-dir`, else `LOCAL_DATA_DIR`, else `.local/`. */
export function localDataDir(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolve(option || env.LOCAL_DATA_DIR || DEFAULT_DATA_DIR);
}

/** The local token key of a data folder: made once, kept there so printed tokens keep working across restarts. */
export function localTokenKey(dataDir: string = localDataDir()): string {
  const file = join(dataDir, 'token-key');
  mkdirSync(dataDir, { recursive: true });
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}
