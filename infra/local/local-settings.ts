/** Where the local stack keeps its state, and the token key that survives restarts. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const LOCAL_DIR = join(__dirname, '..', '..', '.local');
export const LOCAL_TABLE_NAME = 'tenant-lifecycle';
const TOKEN_KEY_FILE = join(LOCAL_DIR, 'token-key');

/** The local token key: made once, kept in .local/ so printed tokens keep working across restarts. */
export function localTokenKey(): string {
  mkdirSync(LOCAL_DIR, { recursive: true });
  if (!existsSync(TOKEN_KEY_FILE)) writeFileSync(TOKEN_KEY_FILE, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(TOKEN_KEY_FILE, 'utf8').trim();
}
