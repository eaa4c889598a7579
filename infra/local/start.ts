/**
 * `npm start`: the embedded local stack. DynamoDB Local (data kept in .local/ across restarts), the lifecycle
 * table with the demo tenants on first start, and the API on loopback, served by the same handlers as on AWS.
 *   npm start                     API on 127.0.0.1:3000, DynamoDB Local on 127.0.0.1:8000
 *   npm start -- --reset          start from an empty database (re-seeds the demo tenants)
 *   PORT=4000 DYNAMODB_PORT=8001 npm start
 *   npm start -- --data-dir PATH  keep the data (database, token key) in PATH instead of .local/ (LOCAL_DATA_DIR=PATH)
 * It stops, DynamoDB Local's JVM included, on SIGINT, SIGTERM or SIGHUP to npm or to this process, and when
 * npm (or whatever launched it in its process group) dies: within 5 s (see `stop`).
 */
import { rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import type { OperationOutcome } from '../../functions/operations/operation-store';
import { lockDataDir } from './data-dir-lock';
import { LocalStackError, checkJava, reservePort, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { watchLaunchers } from './launcher-watch';
import { LOCAL_TABLE_NAME, localDataDir, localTokenKey } from './local-settings';
import { applyLoopbackEnvironment } from './loopback-env';

const USAGE = 'usage: npm start [-- --reset] [-- --port N] [-- --dynamodb-port N] [-- --data-dir PATH]';
/** Everything stops within this: API closed, workflows given WORKFLOW_GRACE_MS, the JVM stopped, exit. */
const STOP_DEADLINE_MS = 4_500;
/**
 * Running workflows (and a schedule being delivered) get this long to finish or compensate; any left are
 * rolled back by the sweep at the next start. Then the JVM gets TERM, and KILL 2 s later (its guard).
 */
const WORKFLOW_GRACE_MS = 2_000;

function portOption(value: string | undefined, fallback: number, name: string): number {
  const port = Number(value ?? fallback);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LocalStackError(`${name} must be a port number 1-65535, got '${value}'. ${USAGE}`);
  return port;
}

/** `workflow plan-change <operationId> tenant=<id> rolled_back cause=DrainTimeoutError: ...` */
export function workflowLine(outcome: OperationOutcome): string {
  return `workflow ${outcome.workflow} ${outcome.operationId} tenant=${outcome.tenantId} ${outcome.status}${outcome.cause ? ` cause=${outcome.cause}` : ''}`;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { reset: { type: 'boolean', default: false }, port: { type: 'string' }, 'dynamodb-port': { type: 'string' }, 'data-dir': { type: 'string' } },
    strict: true,
  });
  const apiPort = portOption(values.port ?? process.env.PORT, 3000, '--port');
  const dynamoPort = portOption(values['dynamodb-port'] ?? process.env.DYNAMODB_PORT, 8000, '--dynamodb-port');
  const dataRoot = localDataDir(values['data-dir']);

  const running: { dynamo?: DynamoDbLocal; closeApi?: () => Promise<void>; workflows?: { idle(): Promise<void> }; scheduler?: { stop(): Promise<void> }; release?: () => void; stopping?: boolean } = {};
  // Stop in order within STOP_DEADLINE_MS: no new requests, no new schedules, running workflows given a short
  // grace, then the JVM. Whatever is still running then is cut off: the JVM's guard kills it when we exit.
  const stop = async (why: string, code = 0) => {
    if (running.stopping) return;
    running.stopping = true;
    log(`Stopping (${why})...`);
    setTimeout(() => {
      process.stderr.write(`npm start: not stopped within ${STOP_DEADLINE_MS} ms; exiting anyway.\n`);
      running.release?.();
      process.exit(code || 1);
    }, STOP_DEADLINE_MS);
    await running.closeApi?.();
    await Promise.race([Promise.all([running.scheduler?.stop(), running.workflows?.idle()]), new Promise((resolve) => setTimeout(resolve, WORKFLOW_GRACE_MS))]);
    await running.dynamo?.stop();
    running.release?.();
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(signal));
  // npm does not pass on every signal (SIGHUP), and SIGKILL reaches no one: notice npm itself going away.
  watchLaunchers((pid) => void stop(`the process that started it (pid ${pid}) has exited`));
  // However we exit, the lock goes; the JVM's guard sees our end of its pipe close and stops the JVM.
  process.on('exit', () => running.release?.());

  applyLoopbackEnvironment();
  checkJava();
  await reservePort(apiPort, 'the API (set PORT or --port)');
  await reservePort(dynamoPort, 'DynamoDB Local (set DYNAMODB_PORT or --dynamodb-port)');

  running.release = lockDataDir(dataRoot, { apiPort }).release;
  const dataDir = join(dataRoot, 'dynamodb');
  if (values.reset) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const dynamo = await startDynamoDbLocal({ port: dynamoPort, dbPath: dataDir });
  running.dynamo = dynamo;

  // The handlers read their configuration once, at import: set it before importing them.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  process.env.TABLE_NAME = LOCAL_TABLE_NAME;
  process.env.TOKEN_SECRET = localTokenKey(dataRoot);
  process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
  process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
  process.env.POWERTOOLS_SERVICE_NAME ??= 'tenant-lifecycle-local';

  const seeded = await ensureTable(dynamo.endpoint);
  // Workflows run in-process: the same ASL files, Task states bound to the same step functions.
  const { LocalWorkflowRunner } = await import('./local-workflow-runner');
  const { setWorkflowRunner } = await import('../../functions/workflows/workflow-runner');
  const { workflowDependencies } = await import('../../functions/plan-change/workflow-deps');
  const workflows = new LocalWorkflowRunner({
    planChange: workflowDependencies,
    onError: (error) => process.stderr.write(`workflow error: ${(error as Error).stack ?? String(error)}\n`),
    onOutcome: (outcome) => log(workflowLine(outcome)),
  });
  setWorkflowRunner(workflows);
  running.workflows = workflows;
  // Executions run in this process: any operation left unfinished by a previous run died with it.
  const { sweepStuckOperations } = await import('../../functions/plan-change/sweep-stuck-operations');
  const swept = await sweepStuckOperations(workflowDependencies(), { stuckAfterSeconds: 0 });
  if (swept.compensated.length > 0) process.stdout.write(`Rolled back ${swept.compensated.length} plan change(s) interrupted by the last shutdown.\n`);
  if (swept.overdueStarted.length > 0) process.stdout.write(`Started ${swept.overdueStarted.length} scheduled plan change(s) that fell due while the stack was down.\n`);
  // One-shot schedules (period-end downgrades) fire from the table, delivered to the same handler as on AWS.
  const { LocalScheduler } = await import('../../functions/scheduler/local-scheduler');
  const { getDocumentClient } = await import('../../functions/shared/aws-clients');
  const { handler: periodEnd } = await import('../../functions/plan-change/handlers/period-end');
  const scheduler = new LocalScheduler({
    client: getDocumentClient(),
    tableName: LOCAL_TABLE_NAME,
    handlers: { 'plan-change.period-end': async (event) => void (await periodEnd(event)) },
    onError: (error, event) => process.stderr.write(`schedule ${event.schedule} failed: ${(error as Error).stack ?? String(error)}\n`),
  });
  scheduler.start(1000);
  running.scheduler = scheduler;
  const { startLocalApi } = await import('./http-adapter');
  const { requestLine } = await import('../../functions/shared/http/request-log');
  const { signToken } = await import('../../functions/auth/api-tokens');
  const api = await startLocalApi({ port: apiPort, onResponse: (entry) => log(requestLine(entry)) });
  running.closeApi = api.close;

  const operatorToken = signToken({ subject: 'local-operator', role: 'operator' }, process.env.TOKEN_SECRET);
  const acmeToken = signToken({ subject: 'acme-app', role: 'tenant', tenantId: 'acme-corp' }, process.env.TOKEN_SECRET);
  process.stdout.write(
    [
      '',
      `Tenant lifecycle control plane (local) is up: ${api.url}`,
      `  DynamoDB Local   ${dynamo.endpoint}  table '${LOCAL_TABLE_NAME}', data in ${dataDir}${seeded > 0 ? ' (demo tenants seeded)' : ' (kept from the last run; --reset to start over)'}`,
      '',
      `  export API=${api.url}`,
      `  export TOKEN=${operatorToken}`,
      `  export ACME_TOKEN=${acmeToken}   # tenant-scoped: reads acme-corp only`,
      '',
      '  curl -s -H "Authorization: Bearer $TOKEN" "$API/tenants"',
      '',
      'One line per request (method, path, status, time, caller) and per workflow outcome follows.',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

/**
 * Create the table when the database is new, and the demo tenants that are missing while it holds only demo
 * tenants (so a first start stopped half-way is completed); answers how many demo tenants were created.
 */
async function ensureTable(endpoint: string): Promise<number> {
  const client = new DynamoDBClient({ endpoint, region: process.env.AWS_REGION });
  let exists = true;
  try {
    await client.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    exists = false;
  } finally {
    client.destroy();
  }
  const { createTableInput } = await import('../../functions/tenants/tenant-table');
  const { tenantStore } = await import('../../functions/tenants/tenant-service');
  const { seedDemoTenants } = await import('./demo-tenants');
  const { getDocumentClient } = await import('../../functions/shared/aws-clients');
  if (!exists) await getDocumentClient().send(new CreateTableCommand(createTableInput(LOCAL_TABLE_NAME)));
  return seedDemoTenants(tenantStore());
}

main().catch((error: unknown) => {
  const message = error instanceof LocalStackError || (error as Error).name === 'TypeError' ? (error as Error).message : (error as Error).stack;
  process.stderr.write(`npm start: ${message ?? String(error)}\n`);
  process.exit(1);
});
