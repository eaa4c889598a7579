/**
 * One `npm start` per data folder. Two DynamoDB Local JVMs over one database file do not share it safely
 * (the second answers InternalFailure or silently shares the first's tables), so the folder holds a lock
 * file naming its owner: created exclusively, removed when the owner stops, and taken over when the process
 * it names has ended (a crash or a SIGKILL leaves it behind).
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LocalStackError } from './dynamodb-local';
import { processStatus } from './launcher-watch';

export const LOCK_FILE = 'npm-start.lock';

interface LockOwner {
  readonly pid: number;
  /** The owner's start time as processStatus reports it: a pid reused by another process is not the owner. */
  readonly started?: string;
  readonly apiPort?: number;
}

export interface DataDirLock {
  readonly path: string;
  /** Remove the lock file if it is still ours; safe to call more than once. */
  release(): void;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined; // missing, or half-written by a crash: no live owner
  }
}

function alive(owner: LockOwner): boolean {
  const status = processStatus(owner.pid);
  return status !== undefined && !status.zombie && (owner.started === undefined || status.started === owner.started);
}

/**
 * Take `dir` for this process. Throws LocalStackError (one line: the folder, the owner, how to use another)
 * when a live process holds it.
 */
export function lockDataDir(dir: string, details: { apiPort?: number } = {}): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, started: processStatus(process.pid)?.started, ...details };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, JSON.stringify(me));
      closeSync(fd);
      return {
        path,
        release: () => {
          if (readOwner(path)?.pid === process.pid) rmSync(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = readOwner(path);
    if (owner && alive(owner)) {
      throw new LocalStackError(
        `the data folder ${dir} is in use by another npm start (pid ${owner.pid}${owner.apiPort ? `, API on port ${owner.apiPort}` : ''}): stop that one, or give this one its own folder with \`npm start -- --data-dir <path>\` (or LOCAL_DATA_DIR=<path>).`,
      );
    }
    rmSync(path, { force: true }); // left by a process that has ended: take it over
  }
  throw new LocalStackError(`could not lock the data folder ${dir} (${path} keeps reappearing); try again.`);
}
