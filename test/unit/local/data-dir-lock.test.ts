/** One `npm start` per data folder: the lock file is exclusive while its owner lives and taken over after. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOCK_FILE, lockDataDir } from '../../../infra/local/data-dir-lock';
import { dynamoDbLocalCommand } from '../../../infra/local/dynamodb-local';
import { processStatus } from '../../../infra/local/launcher-watch';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lock-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The pid of a process that has ended (and been reaped). */
function deadPid(): number {
  return Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
}

describe('Function: lockDataDir', () => {
  it('should refuse a second lock while the first owner lives, with one line naming the folder, the owner and --data-dir', () => {
    const owner = spawn('sleep', ['30']);
    try {
      writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: owner.pid, started: processStatus(owner.pid as number)?.started, apiPort: 3000 }));
      expect(() => lockDataDir(dir)).toThrow(
        new RegExp(`^the data folder ${dir} is in use by another npm start \\(pid ${owner.pid}, API on port 3000\\): .*--data-dir <path>.*LOCAL_DATA_DIR=<path>`),
      );
      expect(() => lockDataDir(dir)).not.toThrow(/\n/);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  it('should take over a lock whose owner has ended, and release only its own lock', () => {
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid() }));
    const lock = lockDataDir(dir, { apiPort: 4000 });
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid, apiPort: 4000 });

    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    writeFileSync(lock.path, JSON.stringify({ pid: 1 }));
    lock.release();
    expect(existsSync(lock.path)).toBe(true);
  });

  it('should take over a lock naming a live pid that started at another time (a reused pid)', () => {
    writeFileSync(join(dir, LOCK_FILE), JSON.stringify({ pid: process.pid, started: 'another start' }));
    expect(lockDataDir(dir).path).toBe(join(dir, LOCK_FILE));
  });

  it('should take over a lock file left half-written', () => {
    writeFileSync(join(dir, LOCK_FILE), '{"pi');
    expect(() => lockDataDir(dir)).not.toThrow();
  });

  it('should refuse while this very process holds it', () => {
    lockDataDir(dir);
    expect(() => lockDataDir(dir)).toThrow(`pid ${process.pid}`);
  });
});

describe('Function: dynamoDbLocalCommand', () => {
  it('should start DynamoDB Local with telemetry disabled, in memory or on a data folder', () => {
    expect(dynamoDbLocalCommand(8000)).toEqual(expect.arrayContaining(['-disableTelemetry', '-inMemory', '-port', '8000']));
    expect(dynamoDbLocalCommand(8001, '/data')).toEqual(expect.arrayContaining(['-disableTelemetry', '-dbPath', '/data']));
  });
});
