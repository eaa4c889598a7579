/**
 * The embedded local stack that `npm start` runs (infra/local/start.ts parses its command line, handles
 * signals and exits): DynamoDB Local on a data folder, the lifecycle table with the demo tenants on first
 * start, the workflow runner and the local scheduler, the lifecycle events' stream poller and event log, and
 * the API on loopback, served by the same handlers as on AWS. In-process, so tests can start and stop it and
 * see what a user of `npm start` sees.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import type { OperationOutcome } from '../../functions/operations/operation-store';
import type { ScheduledEvent } from '../../functions/scheduler/scheduler-port';
import type { LocalScheduler } from '../../functions/scheduler/local-scheduler';
import { lockDataDir } from './data-dir-lock';
import { LocalStackError, SHARED_DATABASE_FILE, adoptSharedDatabase, checkJava, reservePort, startDynamoDbLocal, type DynamoDbLocal, type DynamoDbLocalBinding } from './dynamodb-local';
import { CLOCK_MODES, LOCAL_AWS_CREDENTIALS_FILE, LOCAL_DOCUMENTS_BUCKET, LOCAL_EXPORTS_BUCKET, LOCAL_TABLE_NAME, localAwsCredentials, localClockMode, localDataDir, localStripeWebhookSecret, type ClockMode, type LocalAwsCredentials } from './local-settings';
import { localS3ClientConfig, startS3Local, type S3Local } from './s3-local';
import { applyLoopbackEnvironment, newLocalCredentials, useLocalCredentials, useLocalS3Credentials, type LocalCredentials } from './loopback-env';
import { applyLocalRateLimits } from './local-rate-limits';

/** The repository root, from this file's location. */
const REPO_ROOT = join(__dirname, '..', '..');

export const START_USAGE = 'usage: npm start [-- --reset] [-- --rotate-keys] [-- --port N] [-- --dynamodb-port N] [-- --s3-port N] [-- --data-dir PATH] [-- --clock=wall|simulated]';
/**
 * Running workflows (and a schedule being delivered) get this long to finish or compensate when the stack
 * stops; any left are rolled back by the sweep at the next start.
 */
export const WORKFLOW_GRACE_MS = 2_000;
/**
 * How long `POST /_local/clock` waits, after firing what became due, for the workflows it started to end, so
 * its answer (and the next request) sees their outcome; a longer one (a large hard delete) runs on after it.
 */
export const ADVANCE_SETTLE_MS = 30_000;
/**
 * How long `POST /_local/clock` may run (its local Lambda context): the settle above plus a minute for the firing
 * and the sweepers before it, so a loaded machine gets the settle's answer rather than a 500 from the API routes' 10 s.
 */
export const ADVANCE_TIMEOUT_SECONDS = ADVANCE_SETTLE_MS / 1000 + 60;
/** How often the local stack reads the table's stream for lifecycle events; a Lambda's mapping polls about 4 times a second. */
export const EVENT_POLL_MS = 250;

export interface LocalStackOptions {
  /** The API's port on 127.0.0.1; 0 picks a free one. */
  readonly apiPort: number;
  /**
   * DynamoDB Local's port on 127.0.0.1 (on every interface where no JDK can bind it to loopback; its data is
   * readable with the data folder's key only either way: see localAwsCredentials); 0 picks a free one.
   */
  readonly dynamoPort: number;
  /** The local S3 server's port on 127.0.0.1; 0 (the default) picks a free one. */
  readonly s3Port?: number;
  /** The data folder, absolute: the database (under `dynamodb/`), the token signing keys and the lock file. */
  readonly dataDir: string;
  /** Start from an empty database (the demo tenants are seeded again); rotates the signing key too. */
  readonly reset?: boolean;
  /** Add a new token signing key (`kid`); tokens of the old one stay valid until they expire. */
  readonly rotateKeys?: boolean;
  /** Where each output line goes (no trailing newline); stdout when omitted. */
  readonly log?: (line: string) => void;
  /** Where each error line goes (workflow and schedule failures); stderr when omitted. */
  readonly logError?: (line: string) => void;
  /**
   * Called when DynamoDB Local or the S3 server stops on its own while the stack runs (its error line is logged
   * first): `npm start` then stops the stack and exits 1, since nothing works without them. Nothing else when omitted.
   */
  readonly onServerExit?: (what: string) => void;
  /** `simulated`: a clock an operator moves forward with `POST /_local/clock`; the wall clock when omitted. */
  readonly clock?: ClockMode;
  /**
   * How often the table's stream is read for lifecycle events (`GET /events`), in milliseconds.
   * @default EVENT_POLL_MS
   */
  readonly eventPollMs?: number;
}

/** What a started stack prints, and the tokens it prints (JWTs of the data folder's issuer, valid BANNER_TOKEN_TTL_SECONDS). */
export interface LocalStackInfo {
  readonly url: string;
  readonly dynamoEndpoint: string;
  /** The local S3 server (s3rver), with the documents and exports buckets. */
  readonly s3Endpoint: string;
  /** Where DynamoDB Local keeps the database: `<dataDir>/dynamodb`. */
  readonly databaseDir: string;
  /** How many demo tenants this start created (0 when the database was kept). */
  readonly seeded: number;
  /** Which clock the stack runs on. */
  readonly clock: ClockMode;
  readonly tokens: { readonly operator: string; readonly acme: string; readonly expiresAt: string };
  /** The `kid` new tokens are signed with (a rotation adds a new one). */
  readonly signingKeyId: string;
  /** The signing secret POST /webhooks/stripe verifies with (given as STRIPE_WEBHOOK_SECRET, or kept in the data folder). */
  readonly stripeWebhookSecret: string;
  /** The data folder's AWS key (DynamoDB Local's database is this key's), and its file. */
  readonly aws: LocalAwsCredentials & { readonly file: string };
  /** The S3 server's key, new at each start: the only one it accepts, with every request's signature verified. */
  readonly s3Key: LocalCredentials;
  /** Where DynamoDB Local listens: 127.0.0.1 only, or every interface where no JDK could compile its loopback launcher. */
  readonly dynamoListensOn: DynamoDbLocalBinding;
}

function portOption(value: string | undefined, fallback: number, name: string, allowZero = false): number {
  const port = Number(value ?? fallback);
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new LocalStackError(`${name} must be a port number ${allowZero ? '0-65535 (0: a free one)' : '1-65535'}, got '${value}'. ${START_USAGE}`);
  }
  return port;
}

/**
 * How long the tokens in `npm start`'s banner last: 12 hours, a working day (`npm run token` mints 1-hour ones by
 * default). They expire on the wall clock, whatever the stack's simulated clock says.
 */
export const BANNER_TOKEN_TTL_SECONDS = 12 * 60 * 60;

/**
 * `npm start`'s options from its arguments and environment: `--port`/PORT (3000), `--dynamodb-port`/
 * DYNAMODB_PORT (8000), `--s3-port`/S3_PORT (0: a free port), `--data-dir`/LOCAL_DATA_DIR (.local/), `--reset`
 * (which also rotates the signing key), `--rotate-keys`, `--clock`/LOCAL_CLOCK (`wall` or `simulated`, default `wall`). Throws LocalStackError for a port that is not
 * 1-65535 or an unknown clock, and node's TypeError (code ERR_PARSE_ARGS_*) for an unknown option or a positional.
 */
export function parseStartOptions(args: readonly string[], env: NodeJS.ProcessEnv = process.env): LocalStackOptions {
  const { values } = parseArgs({
    args: [...args],
    options: { reset: { type: 'boolean', default: false }, 'rotate-keys': { type: 'boolean', default: false }, port: { type: 'string' }, 'dynamodb-port': { type: 'string' }, 's3-port': { type: 'string' }, 'data-dir': { type: 'string' }, clock: { type: 'string' } },
    strict: true,
  });
  const clock = localClockMode(values.clock, env);
  if (!clock) throw new LocalStackError(`--clock must be one of ${CLOCK_MODES.join(', ')}, got '${values.clock ?? env.LOCAL_CLOCK}'. ${START_USAGE}`);
  return {
    apiPort: portOption(values.port ?? env.PORT, 3000, '--port'),
    dynamoPort: portOption(values['dynamodb-port'] ?? env.DYNAMODB_PORT, 8000, '--dynamodb-port'),
    s3Port: portOption(values['s3-port'] ?? env.S3_PORT, 0, '--s3-port', true),
    dataDir: localDataDir(values['data-dir'], env),
    reset: values.reset,
    rotateKeys: values['rotate-keys'],
    clock,
  };
}

/**
 * The one line `npm start` prints when it cannot start: the message of an error the user can act on (ours, or
 * node's for bad arguments), the stack of anything else.
 */
export function startErrorLine(error: unknown): string {
  const message = error instanceof LocalStackError || (error as Error).name === 'TypeError' ? (error as Error).message : (error as Error).stack;
  return `npm start: ${message ?? String(error)}`;
}

/**
 * The handler of every schedule target of the registry (workflows' and features'), loaded from its module (the
 * same module its Lambda runs on AWS).
 */
export async function scheduleTargetHandlers(): Promise<Record<string, (event: ScheduledEvent) => Promise<void>>> {
  const { scheduleTargetDefinitions } = await import('../../functions/workflows/registry');
  const targets = scheduleTargetDefinitions();
  const handlers = await Promise.all(
    targets.map(async ({ target, entry }) => {
      const module = (await import(join(REPO_ROOT, entry))) as { handler: (event: ScheduledEvent) => Promise<unknown> };
      return [target, async (event: ScheduledEvent) => void (await module.handler(event))] as const;
    }),
  );
  return Object.fromEntries(handlers);
}

/**
 * The periodic sweepers the stack deploys (EventBridge rules on AWS), by name, each run with the time read from
 * the clock: locally they run at start (interrupted operations) and after each advance of a simulated clock.
 * A sweeper added to the CDK stack is added here too.
 */
export async function localSweepers(): Promise<Record<string, () => Promise<unknown>>> {
  const [{ sweepStuckOperations }, { sweepDeletions }, { workflowDependencies }, { reconcileSubscriptions }, { dunningDependencies }] = await Promise.all([
    import('../../functions/workflows/sweep-stuck-operations'),
    import('../../functions/deletion/sweep-deletions'),
    import('../../functions/workflows/workflow-deps'),
    import('../../functions/dunning/reconcile'),
    import('../../functions/dunning/stripe-event-processor'),
  ]);
  return {
    operations: () => sweepStuckOperations(workflowDependencies()),
    deletions: () => sweepDeletions(workflowDependencies()),
    // The daily billing reconciliation (also on demand: POST /billing/reconcile).
    billing: () => reconcileSubscriptions(dunningDependencies()),
  };
}

/**
 * `workflow plan-change <operationId> tenant=<id> rolled_back cause=DrainTimeoutError: ... (1234 ms)`: how it
 * ended and, last, how long it ran (the WorkflowDuration metric's value).
 */
export function workflowLine(outcome: OperationOutcome): string {
  const duration = outcome.durationMs === undefined ? '' : ` (${Math.round(outcome.durationMs)} ms)`;
  return `workflow ${outcome.workflow} ${outcome.operationId} tenant=${outcome.tenantId} ${outcome.status}${outcome.cause ? ` cause=${outcome.cause}` : ''}${duration}`;
}

/**
 * The progress line for a step's answer that reports records of a source done against those expected (the
 * export's count and batch steps: `{ source, expected, exported }`), e.g.
 * `workflow export op_… tenant=acme-corp documents 4000/100000`; undefined for any other answer.
 */
export function progressLine(workflow: string, operation: { readonly operationId: string; readonly tenantId: string }, result: unknown): string | undefined {
  const progress = result as { source?: unknown; expected?: unknown; exported?: unknown } | null;
  if (typeof progress?.source !== 'string' || typeof progress.expected !== 'number' || typeof progress.exported !== 'number') return undefined;
  return `workflow ${workflow} ${operation.operationId} tenant=${operation.tenantId} ${progress.source} ${progress.exported}/${progress.expected}`;
}

/** The lines printed once the stack is up: where it runs and how to call it. */
export function bannerLines(info: LocalStackInfo): string[] {
  return [
    '',
    `Tenant lifecycle control plane (local) is up: ${info.url}`,
    `  DynamoDB Local   ${info.dynamoEndpoint}  table '${LOCAL_TABLE_NAME}', data in ${info.databaseDir}${info.seeded > 0 ? ' (demo tenants seeded)' : ' (kept from the last run; --reset to start over)'}`,
    `  S3 (s3rver)      ${info.s3Endpoint}  buckets '${LOCAL_DOCUMENTS_BUCKET}' (documents, vectors), '${LOCAL_EXPORTS_BUCKET}'`,
    ...(info.clock === 'simulated'
      ? [`  Clock            simulated: curl -s -X POST "$API/_local/clock" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"advanceSeconds":3600}'`]
      : []),
    '',
    `  export API=${info.url}`,
    `  export TOKEN=${info.tokens.operator}`,
    `  export ACME_TOKEN=${info.tokens.acme}   # tenant-scoped: reads acme-corp only`,
    `  export STRIPE_WEBHOOK_SECRET=${info.stripeWebhookSecret}   # signs Stripe events for POST $API/webhooks/stripe (README: Stripe webhooks)`,
    info.dynamoListensOn === '127.0.0.1'
      ? '  # DynamoDB Local listens on 127.0.0.1 only, as do the API and S3.'
      : '  # DynamoDB Local listens on every interface (install a JDK, with javac, to bind it to 127.0.0.1); its data needs the key below.',
    `  # only the data folder's key sees the table in DynamoDB Local (${info.aws.file}); S3 has a key of its own, new at each start. With the AWS CLI:`,
    `  #   AWS_ACCESS_KEY_ID=${info.aws.accessKeyId} AWS_SECRET_ACCESS_KEY=${info.aws.secretAccessKey} AWS_DEFAULT_REGION=${info.aws.region} aws dynamodb scan --table-name ${LOCAL_TABLE_NAME} --endpoint-url ${info.dynamoEndpoint}`,
    `  #   AWS_ACCESS_KEY_ID=${info.s3Key.accessKeyId} AWS_SECRET_ACCESS_KEY=${info.s3Key.secretAccessKey} AWS_DEFAULT_REGION=us-east-1 aws s3 ls s3://${LOCAL_EXPORTS_BUCKET} --recursive --endpoint-url ${info.s3Endpoint}`,
    `  # TOKEN and ACME_TOKEN expire at ${info.tokens.expiresAt}; more: npm run token [-- --tenant <id>] [--ttl 8h]; keys: $API/.well-known/jwks.json (kid ${info.signingKeyId})`,
    '',
    '  curl -s -H "Authorization: Bearer $TOKEN" "$API/tenants"',
    '',
    'One line per request (method, path, status, time, caller) and per workflow outcome follows.',
    'Press Ctrl-C to stop.',
  ];
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
  else {
    const { migrateTable } = await import('./table-migration');
    await migrateTable(getDocumentClient(), LOCAL_TABLE_NAME);
  }
  return seedDemoTenants(tenantStore());
}


/**
 * One local stack: `start()` brings it up and prints its banner, `stop()` takes it down, and may be called at
 * any time, during `start()` too (then `start()` rejects once it has stopped what it had started).
 *
 * The handlers read their configuration from `process.env` once, at import: `start()` sets it (DynamoDB
 * endpoint, table, token key) before importing them, so one process runs one stack's configuration; a later
 * stack in the same process must use the same DynamoDB port and data folder to be served correctly.
 */
export class LocalStack {
  readonly options: LocalStackOptions;
  readonly #log: (line: string) => void;
  readonly #logError: (line: string) => void;
  readonly #running: { dynamo?: DynamoDbLocal; s3?: S3Local; closeApi?: () => Promise<void>; workflows?: { idle(): Promise<void> }; scheduler?: { stop(): Promise<void> }; eventPoller?: { stop(): Promise<void> }; deletionSweeper?: { stop(): Promise<void> }; release?: () => void; uninstallClock?: () => void } = {};
  #stopping = false;

  constructor(options: LocalStackOptions) {
    this.options = options;
    this.#log = options.log ?? ((line) => process.stdout.write(`${line}\n`));
    this.#logError = options.logError ?? ((line) => process.stderr.write(`${line}\n`));
  }

  /**
   * Start everything, print the banner, and answer what it printed. Throws LocalStackError with one line the
   * user can act on: no Java 17+, a port taken, the data folder in use by another stack.
   */
  async start(): Promise<LocalStackInfo> {
    try {
      return await this.#start();
    } catch (error) {
      if (!this.#stopping) throw error;
      // Whatever failed, failed because stop() took things away: stop what was started since, and say so.
      await this.stop();
      throw new LocalStackError('stopped while starting');
    }
  }

  async #start(): Promise<LocalStackInfo> {
    const { apiPort, dataDir: dataRoot } = this.options;
    const running = this.#running;
    applyLoopbackEnvironment();
    checkJava();
    // A port the user chose is checked now, before anything starts; a free one (0) is chosen by each server as it
    // starts, and chosen again if another process takes it first (onFreePort).
    await reservePort(apiPort, 'the API (set PORT or --port)');
    const { dynamoPort, s3Port = 0 } = this.options;
    await reservePort(dynamoPort, 'DynamoDB Local (set DYNAMODB_PORT or --dynamodb-port)');
    await reservePort(s3Port, 'the local S3 server (set S3_PORT or --s3-port)');
    this.#unlessStopping();

    running.release = lockDataDir(dataRoot, { apiPort }).release;
    // The data folder's AWS key: every client of this stack signs with it; DynamoDB Local keeps its database under
    // it, and the S3 server accepts it alone. Set before anything makes a client.
    const aws = (() => {
      try {
        return localAwsCredentials(dataRoot);
      } catch (error) {
        throw new LocalStackError((error as Error).message);
      }
    })();
    useLocalCredentials(aws);
    process.env.AWS_REGION = aws.region;
    // The S3 server's own key, new at each start: presigned download links show its id (X-Amz-Credential) to the
    // tenant holding them, so it must not be the key DynamoDB Local trusts by its id alone; the S3 server verifies
    // every signature (s3-local.ts), so the id alone opens nothing there.
    const s3Key = newLocalCredentials();
    useLocalS3Credentials(s3Key);
    const databaseDir = join(dataRoot, 'dynamodb');
    // Objects (documents, vectors, exports) are kept beside the database, and reset with it.
    const objectsDir = join(dataRoot, 's3');
    // The stream's checkpoints (lifecycle events) belong to the database: reset with it.
    const eventsDir = join(dataRoot, 'events');
    if (this.options.reset) for (const dir of [databaseDir, objectsDir, eventsDir]) rmSync(dir, { recursive: true, force: true });
    // The tenants' data (and the database files, named after the key) are their owner's alone: each folder 0700.
    for (const dir of [databaseDir, objectsDir, eventsDir]) {
      mkdirSync(dir, { recursive: true });
      chmodSync(dir, 0o700);
    }
    // A database made before the key (-sharedDb, any key read it) becomes the key's: its data is kept.
    if (adoptSharedDatabase(databaseDir, aws.accessKeyId, aws.region) === 'kept-both') {
      this.#log(`DynamoDB Local: ${join(databaseDir, SHARED_DATABASE_FILE)} (a database any key read) is left unread beside this data folder's own; delete it when you no longer need it.`);
    }

    // Both at once: each takes seconds to answer. Whichever failed, the other is stopped (stop() sees both).
    const [dynamo, s3] = await Promise.allSettled([
      startDynamoDbLocal({ port: dynamoPort, dbPath: databaseDir }),
      startS3Local({ port: s3Port, directory: objectsDir, buckets: [LOCAL_DOCUMENTS_BUCKET, LOCAL_EXPORTS_BUCKET], credentials: s3Key }),
    ]);
    if (dynamo.status === 'fulfilled') running.dynamo = dynamo.value;
    if (s3.status === 'fulfilled') running.s3 = s3.value;
    // A server that stops on its own is said at once (and, for npm start, stops the stack), not found later as
    // workflows failing with ECONNREFUSED while /health says ok.
    for (const [what, server] of [['DynamoDB Local', running.dynamo], ['The local S3 server', running.s3]] as const) {
      server?.process.once('exit', (code, signal) => {
        if (this.#stopping) return;
        this.#logError(`npm start: ${what} stopped on its own (${signal ?? `exit code ${code}`}); the stack cannot work without it. Start it again with npm start.`);
        this.options.onServerExit?.(what);
      });
    }
    if (dynamo.status === 'rejected') throw dynamo.reason;
    if (s3.status === 'rejected') throw s3.reason;
    this.#unlessStopping();
    const dynamoEndpoint = dynamo.value.endpoint;
    const s3Endpoint = s3.value.endpoint;

    // The handlers read their configuration once, at import: set it before importing them.
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamoEndpoint;
    process.env.AWS_ENDPOINT_URL_S3 = s3Endpoint;
    process.env.DOCUMENTS_BUCKET = LOCAL_DOCUMENTS_BUCKET;
    process.env.EXPORTS_BUCKET = LOCAL_EXPORTS_BUCKET;
    process.env.TABLE_NAME = LOCAL_TABLE_NAME;
    // The issuer of this data folder: its keys made on first start, a new one added on --reset or --rotate-keys.
    const { LocalIssuer, defaultOperatorSubject, defaultTenantSubject } = await import('./local-issuer');
    const issuer = LocalIssuer.open(dataRoot, { rotate: this.options.reset === true || this.options.rotateKeys === true });
    // The HMAC key of the tokens this issuer replaces: a secret nothing reads any more.
    rmSync(join(dataRoot, 'token-key'), { force: true });
    const stripeWebhookSecret = (() => {
      try {
        return localStripeWebhookSecret(dataRoot);
      } catch (error) {
        throw new LocalStackError((error as Error).message);
      }
    })();
    process.env.STRIPE_WEBHOOK_SECRET = stripeWebhookSecret;
    process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
    process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
    process.env.POWERTOOLS_SERVICE_NAME ??= 'tenant-lifecycle-local';
    // The deployed stack's cap on a tenant's live query leases, unless the shell sets another (imported only now:
    // config reads the endpoints set above when it loads).
    const { DEFAULT_MAX_LIVE_LEASES_PER_TENANT } = await import('../../functions/shared/config');
    process.env.MAX_LIVE_LEASES_PER_TENANT ??= String(DEFAULT_MAX_LIVE_LEASES_PER_TENANT);
    // The per-caller rate limit is on, with limits no local user reaches by accident (infra/local/local-rate-limits.ts).
    applyLocalRateLimits();

    const seeded = await ensureTable(dynamoEndpoint);
    if (seeded > 0) {
      const { seedDemoContent } = await import('./demo-tenants');
      await seedDemoContent(s3Endpoint);
    }
    // Installed before anything reads the time; it starts at the wall time and runs with it until advanced.
    const { SimulatedClock, clockRoutes, installLocalClock } = await import('./local-clock');
    const simulatedClock = this.options.clock === 'simulated' ? new SimulatedClock() : undefined;
    if (simulatedClock) running.uninstallClock = installLocalClock(simulatedClock);
    // Workflows run in-process: the same ASL files, Task states bound to the same step functions.
    const { LocalWorkflowRunner } = await import('./local-workflow-runner');
    const { setWorkflowRunner } = await import('../../functions/workflows/workflow-runner');
    const { workflowDependencies } = await import('../../functions/workflows/workflow-deps');
    const workflows = new LocalWorkflowRunner({
      dependencies: workflowDependencies,
      onError: (error) => this.#logError(`workflow error: ${(error as Error).stack ?? String(error)}`),
      onOutcome: (outcome) => this.#log(workflowLine(outcome)),
      onStep: (step) => {
        const line = progressLine(step.workflow, step.operation, step.result);
        if (line) this.#log(line);
      },
    });
    setWorkflowRunner(workflows);
    // Downloads: presigned by the local adapter, which enforces the retention the AWS bucket's lifecycle rule does.
    const [{ S3Client }, { s3ExportFiles, setExportFiles }] = await Promise.all([import('@aws-sdk/client-s3'), import('../../functions/export/export-files')]);
    setExportFiles(await s3ExportFiles({ s3: new S3Client(localS3ClientConfig(s3Endpoint)), bucket: LOCAL_EXPORTS_BUCKET, local: true }));
    running.workflows = workflows;
    // Executions run in this process: any operation left unfinished by a previous run died with it.
    const { sweepStuckOperations } = await import('../../functions/workflows/sweep-stuck-operations');
    const swept = await sweepStuckOperations(workflowDependencies(), { stuckAfterSeconds: 0 });
    if (swept.compensated.length > 0) this.#log(`Rolled back ${swept.compensated.length} operation(s) interrupted by the last shutdown.`);
    if (swept.overdueStarted.length > 0) this.#log(`Started ${swept.overdueStarted.length} scheduled operation(s) that fell due while the stack was down.`);
    // One-shot schedules fire from the table, delivered to the same handler modules as on AWS (the registry's targets).
    const { LocalScheduler } = await import('../../functions/scheduler/local-scheduler');
    const { getDocumentClient } = await import('../../functions/shared/aws-clients');
    const scheduler = new LocalScheduler({
      client: getDocumentClient(),
      tableName: LOCAL_TABLE_NAME,
      handlers: await scheduleTargetHandlers(),
      onError: (error, event) => this.#logError(`schedule ${event.schedule} failed: ${(error as Error).stack ?? String(error)}`),
    });
    scheduler.start(1000);
    running.scheduler = scheduler;
    // The deletion sweeper, as the hourly Lambda on AWS: late hard deletes started, lost deletion schedules recreated.
    const { startLocalDeletionSweeper } = await import('./local-deletion-sweeper');
    running.deletionSweeper = startLocalDeletionSweeper(workflowDependencies, {
      onPass: (result) => {
        if (result.started.length > 0) this.#log(`deletion sweeper: started the hard delete of ${result.started.map((s) => s.tenantId).join(', ')} (past the deletion window)`);
        if (result.rearmed.length > 0) this.#log(`deletion sweeper: recreated lost deletion schedules of ${result.rearmed.map((r) => r.tenantId).join(', ')}`);
      },
      onError: (error) => this.#logError(`deletion sweeper failed: ${(error as Error).stack ?? String(error)}`),
    });
    // Lifecycle events: the table's stream read as a Lambda's mapping would, handed to the same publisher code,
    // delivered to the local event log (GET /events) instead of the bus.
    const [{ LocalEventLog, eventLogRoutes }, { StreamPoller }, { publishStreamRecords }, { DynamoDBStreamsClient }] = await Promise.all([
      import('./local-event-log'),
      import('./stream-poller'),
      import('../../functions/events/lifecycle-events'),
      import('@aws-sdk/client-dynamodb-streams'),
    ]);
    const streams = new DynamoDBStreamsClient({ endpoint: dynamoEndpoint, region: process.env.AWS_REGION });
    const eventLog = new LocalEventLog({ client: getDocumentClient(), tableName: LOCAL_TABLE_NAME });
    const eventPoller = new StreamPoller({
      dynamo: getDocumentClient(),
      streams,
      tableName: LOCAL_TABLE_NAME,
      checkpointFile: join(dataRoot, 'events', 'stream-checkpoints.json'),
      handle: (records) => publishStreamRecords(records, eventLog, { onInvalid: (error) => this.#logError(`lifecycle event not published: ${(error as Error).message}`) }),
      onError: (error) => this.#logError(`lifecycle events: reading the table's stream failed: ${(error as Error).stack ?? String(error)}`),
      // As the mapping's on-failure destination on AWS: a record still refused after its retries is passed over, and said.
      onDeadLetter: (record) => this.#logError(`lifecycle events: stream record ${record.dynamodb?.SequenceNumber ?? '?'} not published after its retries; passed over (read the tenant's history)`),
    });
    eventPoller.start(this.options.eventPollMs ?? EVENT_POLL_MS);
    running.eventPoller = {
      stop: async () => {
        await eventPoller.stop();
        streams.destroy();
      },
    };
    this.#unlessStopping();
    const { startLocalApi } = await import('./http-adapter');
    const { requestLine } = await import('../../functions/shared/http/request-log');
    const localRoutes = [...clockRoutes({ clock: simulatedClock, onAdvance: (move) => this.#advance(move, scheduler, workflows), advanceTimeoutSeconds: ADVANCE_TIMEOUT_SECONDS }), ...eventLogRoutes(eventLog)];
    const api = await startLocalApi({ tokens: issuer, port: apiPort, onResponse: (entry) => this.#log(requestLine(entry)), localRoutes });
    running.closeApi = api.close;
    this.#unlessStopping();

    const info: LocalStackInfo = {
      url: api.url,
      dynamoEndpoint,
      s3Endpoint,
      databaseDir,
      seeded,
      clock: simulatedClock ? 'simulated' : 'wall',
      tokens: {
        operator: issuer.mint({ subject: defaultOperatorSubject(), role: 'operator' }, { ttlSeconds: BANNER_TOKEN_TTL_SECONDS }),
        acme: issuer.mint({ subject: defaultTenantSubject('acme-corp'), role: 'tenant', tenantId: 'acme-corp' }, { ttlSeconds: BANNER_TOKEN_TTL_SECONDS }),
        expiresAt: new Date(issuer.now().getTime() + BANNER_TOKEN_TTL_SECONDS * 1000).toISOString(),
      },
      signingKeyId: issuer.currentKid,
      stripeWebhookSecret,
      aws: { ...aws, file: join(dataRoot, LOCAL_AWS_CREDENTIALS_FILE) },
      s3Key,
      dynamoListensOn: dynamo.value.listensOn,
    };
    this.#log(bannerLines(info).join('\n'));
    return info;
  }

  /**
   * An advance of the simulated clock (`move`) and what it sets off at once, instead of at the next tick: the
   * schedules now due fire, then the sweepers run at the new time (as their periodic rules would on AWS), then the
   * workflows started get up to ADVANCE_SETTLE_MS to end. The move and the firing run with the scheduler's timer
   * held: a tick between them would claim what the advance made due and leave it out of the answer (the
   * README's walk-throughs read `schedules.fired`). Answers what happened, for `POST /_local/clock`'s answer.
   */
  async #advance(move: () => void, scheduler: Pick<LocalScheduler, 'fireDue' | 'withTimerHeld'>, workflows: { idle(): Promise<void> }) {
    const { fired, failed } = await scheduler.withTimerHeld(() => scheduler.fireDue(), move);
    const sweeps: Record<string, unknown> = {};
    for (const [name, sweep] of Object.entries(await localSweepers())) {
      try {
        sweeps[name] = await sweep();
      } catch (error) {
        // As a failed invocation of its rule on AWS: reported, and the advance still answers (the clock has moved).
        this.#logError(`sweeper ${name} failed: ${(error as Error).stack ?? String(error)}`);
        sweeps[name] = { error: (error as Error).message ?? String(error) };
      }
    }
    let timer: NodeJS.Timeout | undefined;
    const settled = await Promise.race([workflows.idle().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ADVANCE_SETTLE_MS)))]);
    clearTimeout(timer);
    return { schedules: { fired, failed }, sweeps, workflowsSettled: settled };
  }

  /**
   * Stop in order: no new requests, no new schedules or stream reads, running workflows given WORKFLOW_GRACE_MS, then the JVM
   * (TERM, KILL 2 s later) and the local S3 server, then the data folder's lock. Resolves when done; safe to call more than once.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    const running = this.#running;
    const { closeApi, scheduler, eventPoller, deletionSweeper, workflows, dynamo, s3 } = running;
    running.s3 = undefined;
    running.closeApi = undefined;
    running.scheduler = undefined;
    running.eventPoller = undefined;
    running.deletionSweeper = undefined;
    running.workflows = undefined;
    running.dynamo = undefined;
    await closeApi?.();
    if (scheduler || eventPoller || deletionSweeper || workflows) {
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all([scheduler?.stop(), eventPoller?.stop(), deletionSweeper?.stop(), workflows?.idle()]), new Promise((resolve) => (grace = setTimeout(resolve, WORKFLOW_GRACE_MS)))]);
      clearTimeout(grace);
    }
    await Promise.all([dynamo?.stop(), s3?.stop()]);
    running.uninstallClock?.();
    running.uninstallClock = undefined;
    this.release();
  }

  /** Give up the data folder's lock (if still ours); what `npm start` does however it exits. */
  release(): void {
    this.#running.release?.();
  }

  /** A stop requested while starting ends start() (which then stops what has been started since). */
  #unlessStopping(): void {
    if (this.#stopping) throw new LocalStackError('stopped while starting');
  }
}

/** Start a local stack (see LocalStack); on failure, whatever it had started is stopped before it throws. */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStackInfo & { stop(): Promise<void> }> {
  const stack = new LocalStack(options);
  try {
    return { ...(await stack.start()), stop: () => stack.stop() };
  } catch (error) {
    await stack.stop();
    throw error;
  }
}
