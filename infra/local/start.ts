/**
 * `npm start`: the embedded local stack. DynamoDB Local (data kept in .local/ across restarts), the lifecycle
 * table with the demo tenants on first start, and the API on loopback, served by the same handlers as on AWS.
 *   npm start                     API on 127.0.0.1:3000, DynamoDB Local on 127.0.0.1:8000
 *   npm start -- --reset          start from an empty database (re-seeds the demo tenants)
 *   PORT=4000 DYNAMODB_PORT=8001 npm start
 * Ctrl-C stops everything, DynamoDB Local's JVM included.
 */
import { rmSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { LocalStackError, checkJava, reservePort, startDynamoDbLocal, type DynamoDbLocal } from './dynamodb-local';
import { LOCAL_DIR, LOCAL_TABLE_NAME, localTokenKey } from './local-settings';
import { applyLoopbackEnvironment } from './loopback-env';

const USAGE = 'usage: npm start [-- --reset] [-- --port N] [-- --dynamodb-port N]';

function portOption(value: string | undefined, fallback: number, name: string): number {
  const port = Number(value ?? fallback);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new LocalStackError(`${name} must be a port number 1-65535, got '${value}'. ${USAGE}`);
  return port;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { reset: { type: 'boolean', default: false }, port: { type: 'string' }, 'dynamodb-port': { type: 'string' } },
    strict: true,
  });
  const apiPort = portOption(values.port ?? process.env.PORT, 3000, '--port');
  const dynamoPort = portOption(values['dynamodb-port'] ?? process.env.DYNAMODB_PORT, 8000, '--dynamodb-port');

  applyLoopbackEnvironment();
  checkJava();
  await reservePort(apiPort, 'the API (set PORT or --port)');
  await reservePort(dynamoPort, 'DynamoDB Local (set DYNAMODB_PORT or --dynamodb-port)');

  const dataDir = join(LOCAL_DIR, 'dynamodb');
  if (values.reset) rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const running: { dynamo?: DynamoDbLocal; closeApi?: () => Promise<void>; workflows?: { idle(): Promise<void> }; scheduler?: { stop(): Promise<void> }; stopping?: boolean } = {};
  const stop = async (code: number) => {
    if (running.stopping) return;
    running.stopping = true;
    await running.closeApi?.();
    await running.scheduler?.stop();
    // Let running workflows finish or compensate (bounded), so no tenant is left mid-change.
    await Promise.race([running.workflows?.idle(), new Promise((resolve) => setTimeout(resolve, 10_000))]);
    await running.dynamo?.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGHUP', () => void stop(0));
  // Last resort if we die another way: never leave the JVM behind.
  process.on('exit', () => running.dynamo?.process.kill('SIGKILL'));

  const dynamo = await startDynamoDbLocal({ port: dynamoPort, dbPath: dataDir });
  running.dynamo = dynamo;

  // The handlers read their configuration once, at import: set it before importing them.
  process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
  process.env.TABLE_NAME = LOCAL_TABLE_NAME;
  process.env.TOKEN_SECRET = localTokenKey();
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
  const { signToken } = await import('../../functions/auth/api-tokens');
  const api = await startLocalApi({ port: apiPort });
  running.closeApi = api.close;

  const operatorToken = signToken({ subject: 'local-operator', role: 'operator' }, process.env.TOKEN_SECRET);
  const acmeToken = signToken({ subject: 'acme-app', role: 'tenant', tenantId: 'acme-corp' }, process.env.TOKEN_SECRET);
  process.stdout.write(
    [
      '',
      `Tenant lifecycle control plane (local) is up: ${api.url}`,
      `  DynamoDB Local   ${dynamo.endpoint}  table '${LOCAL_TABLE_NAME}', data in .local/dynamodb${seeded ? ' (demo tenants seeded)' : ' (kept from the last run; --reset to start over)'}`,
      '',
      `  export API=${api.url}`,
      `  export TOKEN=${operatorToken}`,
      `  export ACME_TOKEN=${acmeToken}   # tenant-scoped: reads acme-corp only`,
      '',
      '  curl -s -H "Authorization: Bearer $TOKEN" "$API/tenants"',
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}

/** Create the table and seed the demo tenants when the database is new; true when it seeded. */
async function ensureTable(endpoint: string): Promise<boolean> {
  const client = new DynamoDBClient({ endpoint, region: process.env.AWS_REGION });
  try {
    await client.send(new DescribeTableCommand({ TableName: LOCAL_TABLE_NAME }));
    return false;
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  } finally {
    client.destroy();
  }
  const { createTableInput } = await import('../../functions/tenants/tenant-table');
  const { tenantStore } = await import('../../functions/tenants/tenant-service');
  const { seedDemoTenants } = await import('./demo-tenants');
  const { getDocumentClient } = await import('../../functions/shared/aws-clients');
  await getDocumentClient().send(new CreateTableCommand(createTableInput(LOCAL_TABLE_NAME)));
  await seedDemoTenants(tenantStore());
  return true;
}

main().catch((error: unknown) => {
  const message = error instanceof LocalStackError || (error as Error).name === 'TypeError' ? (error as Error).message : (error as Error).stack;
  process.stderr.write(`npm start: ${message ?? String(error)}\n`);
  process.exit(1);
});
