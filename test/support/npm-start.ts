/**
 * The real `npm start`, spawned as a user would: its own process group (as a terminal gives a job), free
 * loopback ports and a data folder of its own. Finds the processes of the instance (npm, the node process
 * running start.ts, DynamoDB Local's JVM) with `ps`, and says whether all of them are gone.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { testPort } from './test-port';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const REPO_ROOT = join(__dirname, '..', '..');

export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly pgid: number;
  readonly stat: string;
  readonly args: string;
}

/** Every process on the machine (zombies included: their `stat` starts with Z). */
export function processTable(): ProcessInfo[] {
  const { stdout } = spawnSync('ps', ['-eo', 'pid=,ppid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ pid: Number(match[1]), ppid: Number(match[2]), pgid: Number(match[3]), stat: match[4] as string, args: match[5] as string }));
}

/** Alive: exists and is not a zombie (an orphan's zombie may wait for a reaper that never comes). */
export function isAlive(pid: number, table: ProcessInfo[] = processTable()): boolean {
  const found = table.find((entry) => entry.pid === pid);
  return found !== undefined && !found.stat.startsWith('Z');
}

/** Resolves true when a TCP connection to 127.0.0.1:port is refused, false when it is accepted. */
export function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

export interface NpmStartOptions {
  /** Reuse this data folder (else a new temporary one, removed by `cleanup`). */
  readonly dataDir?: string;
  /** Spawn `npm start` through an intermediate shell (`sh -c 'npm start; ...'`), the shell being the group leader. */
  readonly viaShell?: boolean;
  readonly args?: readonly string[];
}

export class NpmStart {
  readonly child: ChildProcess;
  readonly apiPort: number;
  readonly dynamoPort: number;
  readonly s3Port: number;
  readonly dataDir: string;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  #ownsDataDir: boolean;
  /** Pids seen while it ran: killed in `cleanup` whatever happened. */
  readonly #seen = new Set<number>();

  private constructor(child: ChildProcess, ports: { api: number; dynamo: number; s3: number }, dataDir: string, ownsDataDir: boolean) {
    this.child = child;
    this.apiPort = ports.api;
    this.dynamoPort = ports.dynamo;
    this.s3Port = ports.s3;
    this.dataDir = dataDir;
    this.#ownsDataDir = ownsDataDir;
    child.stdout?.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Spawn it (it is not ready yet: see `ready`). */
  static async spawn(options: NpmStartOptions = {}): Promise<NpmStart> {
    const apiPort = await testPort('the test API');
    const dynamoPort = await testPort('the test DynamoDB Local');
    const s3Port = await testPort('the test local S3 server');
    const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'npm-start-'));
    // A clean environment, as a user's shell would have: nothing of the test runner's AWS settings.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      TMPDIR: process.env.TMPDIR,
      PORT: String(apiPort),
      DYNAMODB_PORT: String(dynamoPort),
      S3_PORT: String(s3Port),
      LOCAL_DATA_DIR: dataDir,
      npm_config_update_notifier: 'false',
    };
    const npmArgs = ['start', ...(options.args?.length ? ['--', ...options.args] : [])];
    const child = options.viaShell
      ? spawn('sh', ['-c', `npm ${npmArgs.join(' ')}; echo "npm exited with $?"`], { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('npm', npmArgs, { cwd: REPO_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    return new NpmStart(child, { api: apiPort, dynamo: dynamoPort, s3: s3Port }, dataDir, options.dataDir === undefined);
  }

  /** The process group: the spawned process leads it (detached), as a shell's job leader does. */
  get pgid(): number {
    return this.child.pid as number;
  }

  /** Wait for the "is up" line (or the process to end). */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!/is up: http/.test(this.stdout)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`npm start ended before it was up (${this.child.exitCode ?? this.child.signalCode}):\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`npm start was not up within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`);
      await sleep(100);
    }
    this.remember();
  }

  /** Wait until DynamoDB Local's JVM of this instance runs (it answers ~3 s later). */
  async jvmStarted(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!processTable().some((entry) => entry.args.includes('DynamoDBLocal.jar') && entry.args.includes(`-port ${this.dynamoPort}`))) {
      if (Date.now() > deadline) throw new Error(`No DynamoDB Local JVM within ${timeoutMs} ms:\n${this.stdout}\n${this.stderr}`);
      await sleep(50);
    }
    this.remember();
  }

  /**
   * The processes of this instance: its process group, the JVM and its ancestors wherever they are, and the local
   * S3 server (a node child running s3rver on this instance's port) once it runs.
   */
  processes(table: ProcessInfo[] = processTable()): { npm: number; node: number; jvm: number; s3?: number; all: number[] } {
    const jvm = table.find((entry) => entry.args.includes('DynamoDBLocal.jar') && entry.args.includes(`-port ${this.dynamoPort}`));
    if (!jvm) throw new Error(`No DynamoDB Local JVM on port ${this.dynamoPort}`);
    // The node process running start.ts: the nearest ancestor of the JVM whose command runs start.ts.
    let node: ProcessInfo | undefined = jvm;
    do node = table.find((entry) => entry.pid === node?.ppid);
    while (node && !(node.args.includes('start.ts') && !/^(sh|\/bin\/sh|npm)\b/.test(node.args)));
    if (!node) throw new Error('No node process running start.ts above the JVM');
    const npm = table.find((entry) => entry.pgid === this.pgid && /^npm start\b/.test(entry.args));
    const all = table.filter((entry) => entry.pgid === this.pgid).map((entry) => entry.pid);
    const s3 = table.find((entry) => entry.args.includes('s3rver') && entry.args.includes(` ${this.s3Port} `))?.pid;
    return { npm: npm?.pid ?? this.pgid, node: node.pid, jvm: jvm.pid, s3, all: [...new Set([...all, node.pid, jvm.pid, ...(s3 === undefined ? [] : [s3])])] };
  }

  remember(): void {
    for (const pid of this.processes().all) this.#seen.add(pid);
  }

  /**
   * Poll until the API port and the DynamoDB Local port refuse connections and none of the given processes
   * is alive; the elapsed ms, or what is left after `limitMs`.
   */
  async waitUntilStopped(pids: readonly number[], limitMs: number): Promise<{ ms: number; left: string[] }> {
    const started = Date.now();
    let left: string[] = [];
    while (Date.now() - started <= limitMs) {
      const table = processTable();
      const alive = table.filter((entry) => (pids.includes(entry.pid) || entry.pgid === this.pgid) && !entry.stat.startsWith('Z'));
      left = alive.map((entry) => `${entry.pid} ${entry.args.slice(0, 120)}`);
      if (!(await refusesConnections(this.apiPort))) left.push(`API port ${this.apiPort} accepts connections`);
      if (!(await refusesConnections(this.dynamoPort))) left.push(`DynamoDB Local port ${this.dynamoPort} accepts connections`);
      if (!(await refusesConnections(this.s3Port))) left.push(`local S3 server port ${this.s3Port} accepts connections`);
      if (left.length === 0) return { ms: Date.now() - started, left };
      await sleep(100);
    }
    return { ms: Date.now() - started, left };
  }

  /** Kill whatever is left of the instance (SIGKILL), and remove its data folder if it made it. */
  cleanup(): void {
    try {
      for (const pid of this.processes().all) this.#seen.add(pid);
    } catch {
      // already gone
    }
    try {
      process.kill(-this.pgid, 'SIGKILL');
    } catch {
      // no such group
    }
    for (const pid of this.#seen) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    if (this.#ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }
}
