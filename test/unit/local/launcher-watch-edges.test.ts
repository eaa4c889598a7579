/**
 * The cases of `npm start`'s launcher watch that the main test does not reach: a launcher that has ended but
 * was not reaped by its parent (a zombie still has a /proc entry), and systems without /proc, where `ps`
 * answers instead.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchers, processStatus, watchLaunchers } from '../../../infra/local/launcher-watch';

jest.mock('node:fs', () => {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs');
  return { ...actual, readFileSync: jest.fn(actual.readFileSync) };
});
const readFileSync = fs.readFileSync as jest.MockedFunction<typeof fs.readFileSync>;

let group: ChildProcess | undefined;

afterEach(() => {
  readFileSync.mockImplementation(jest.requireActual<typeof import('node:fs')>('node:fs').readFileSync);
  if (group?.pid !== undefined) {
    try {
      process.kill(-group.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
  }
  group = undefined;
});

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await sleep(20);
  return condition();
}

/** /proc reads fail as on a system without /proc (macOS): `processStatus` must fall back to `ps`. */
function withoutProc(): void {
  const actual = jest.requireActual<typeof import('node:fs')>('node:fs').readFileSync;
  readFileSync.mockImplementation(((path: fs.PathOrFileDescriptor, options?: unknown) => {
    if (String(path).startsWith('/proc/')) throw Object.assign(new Error(`ENOTSUP: ${String(path)}`), { code: 'ENOTSUP' });
    return actual(path, options as BufferEncoding);
  }) as typeof fs.readFileSync);
}

describe('Function: watchLaunchers', () => {
  it('should count a launcher that has exited but was not reaped (a zombie) as ended', async () => {
    // group leader L execs a sleep that never reaps its child B; B starts W, prints both pids, then exits.
    group = spawn('sh', ['-c', "sh -c 'sleep 30 & echo $$ $!; exec sleep 0.4' & exec sleep 30"], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const [launcher, worker] = await new Promise<number[]>((resolve) => group?.stdout?.once('data', (chunk: Buffer) => resolve(chunk.toString().trim().split(' ').map(Number))));
    const ended: number[] = [];
    const watch = watchLaunchers((pid) => ended.push(pid), 20, worker);
    try {
      expect(watch.launchers.map((entry) => entry.pid)).toEqual([launcher, group.pid]);

      expect(await until(() => ended.length > 0, 3_000)).toBe(true);
      expect(ended).toEqual([launcher]);
      expect(processStatus(launcher as number)).toMatchObject({ zombie: true }); // still there: only its state says it ended
    } finally {
      watch.stop();
    }
  });
});

describe('Function: processStatus without /proc', () => {
  it('should read parent, group and start time from ps, and answer undefined for a pid that has ended', () => {
    group = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const pid = group.pid as number;
    withoutProc();

    expect(processStatus(pid)).toEqual({ ppid: process.pid, pgid: pid, zombie: false, started: expect.stringMatching(/\d{2}:\d{2}:\d{2} \d{4}$/) });
    expect(readFileSync).toHaveBeenCalledWith(`/proc/${pid}/stat`, 'utf8');
    const ended = Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
    expect(processStatus(ended)).toBeUndefined();
  });

  it('should list launchers from ps as from /proc', async () => {
    group = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    const worker = await new Promise<number>((resolve) => group?.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
    withoutProc();

    expect(launchers(worker).map((entry) => entry.pid)).toEqual([group.pid]);
    expect(launchers(Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim()))).toEqual([]);
  });
});
