/**
 * How `npm start` notices that whatever launched it died (npm killed with SIGKILL, a closed terminal's shell):
 * the launchers of a process are its ancestors in its process group, and their end is seen within a poll.
 * A shell run as its own process group, with a `sleep` in it, stands for npm and the node process it runs.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { launchers, processStatus, watchLaunchers } from '../../../infra/local/launcher-watch';

let shell: ChildProcess;
let worker: number;

beforeEach(async () => {
  shell = spawn('sh', ['-c', 'sleep 30 & echo $!; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  worker = await new Promise<number>((resolve) => shell.stdout?.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim()))));
});

afterEach(() => {
  try {
    process.kill(-(shell.pid as number), 'SIGKILL');
  } catch {
    // the group is gone already
  }
  try {
    process.kill(worker, 'SIGKILL');
  } catch {
    // gone
  }
});

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!condition() && Date.now() < deadline) await sleep(20);
  return condition();
}

describe('Function: processStatus', () => {
  it("should read a live process's parent and group, and answer undefined for a pid that has ended", () => {
    expect(processStatus(worker)).toMatchObject({ ppid: shell.pid, pgid: shell.pid, zombie: false, started: expect.stringMatching(/^\d+$/) });
    const ended = Number(spawnSync('sh', ['-c', 'echo $$'], { encoding: 'utf8' }).stdout.trim());
    expect(processStatus(ended)).toBeUndefined();
  });
});

describe('Function: launchers', () => {
  it('should list the ancestors in the process group, nearest first, and stop at the group leader', () => {
    expect(launchers(worker)).toEqual([{ pid: shell.pid, started: processStatus(shell.pid as number)?.started }]);
    expect(launchers(shell.pid)).toEqual([]); // it leads its group: nothing launched it in there
  });
});

describe('Function: watchLaunchers', () => {
  it('should call back once, with its pid, when the launcher is killed with SIGKILL', async () => {
    const ended: number[] = [];
    const watch = watchLaunchers((pid) => ended.push(pid), 20, worker);
    expect(watch.launchers.map((launcher) => launcher.pid)).toEqual([shell.pid]);

    shell.kill('SIGKILL');

    expect(await until(() => ended.length > 0, 2_000)).toBe(true);
    await sleep(100);
    expect(ended).toEqual([shell.pid]);
  });

  it('should call nothing once stopped', async () => {
    const ended: number[] = [];
    watchLaunchers((pid) => ended.push(pid), 20, worker).stop();

    shell.kill('SIGKILL');

    await sleep(200);
    expect(ended).toEqual([]);
  });
});
