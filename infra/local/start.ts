/**
 * `npm start`: the embedded local stack (see local-stack.ts). DynamoDB Local (data kept in .local/ across
 * restarts), the lifecycle table with the demo tenants on first start, and the API on loopback, served by the
 * same handlers as on AWS.
 *   npm start                     API on 127.0.0.1:3000, DynamoDB Local on 127.0.0.1:8000 (its data under .local/'s key)
 *   npm start -- --reset          start from an empty database (re-seeds the demo tenants) and rotate the signing key
 *   npm start -- --rotate-keys    add a new token signing key (tokens of the old one stay valid until they expire)
 *   PORT=4000 DYNAMODB_PORT=8001 npm start
 *   npm start -- --data-dir PATH  keep the data (database, token signing keys) in PATH instead of .local/ (LOCAL_DATA_DIR=PATH)
 * It stops, DynamoDB Local's JVM included, on SIGINT, SIGTERM or SIGHUP to npm or to this process, and when
 * npm (or whatever launched it in its process group) dies: within 5 s (see `stop`).
 */
import { watchLaunchers } from './launcher-watch';
import { LocalStack, parseStartOptions, startErrorLine } from './local-stack';

/** Everything stops within this: API closed, workflows given WORKFLOW_GRACE_MS, the JVM stopped, exit. */
const STOP_DEADLINE_MS = 4_500;

const log = (line: string) => process.stdout.write(`${line}\n`);
let stopping = false;

async function main(): Promise<void> {
  // onServerExit is called only once the stack runs, after `stop` below is defined.
  const stack = new LocalStack({ ...parseStartOptions(process.argv.slice(2)), onServerExit: (what) => void stop(`${what} stopped`, 1) });
  // Stop in order within STOP_DEADLINE_MS (LocalStack.stop). Whatever is still running then is cut off: the
  // JVM's guard kills it when we exit.
  const stop = async (why: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log(`Stopping (${why})...`);
    setTimeout(() => {
      process.stderr.write(`npm start: not stopped within ${STOP_DEADLINE_MS} ms; exiting anyway.\n`);
      stack.release();
      process.exit(code || 1);
    }, STOP_DEADLINE_MS);
    await stack.stop();
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
  // npm does not pass on every signal (SIGHUP), and SIGKILL reaches no one: notice npm itself going away.
  watchLaunchers((pid) => void stop(`the process that started it (pid ${pid}) has exited`));
  // However we exit, the lock goes; the JVM's guard sees our end of its pipe close and stops the JVM.
  process.on('exit', () => stack.release());

  await stack.start();
}

main().catch((error: unknown) => {
  // Stopped while starting: `stop` exits once everything is down (start() ends with 'stopped while starting').
  if (stopping) return;
  process.stderr.write(`${startErrorLine(error)}\n`);
  process.exit(1);
});
