/**
 * Transition throughput: TenantStore.applyTransition against the same TransactWriteItems written by hand.
 *
 *   npm run bench:transitions
 *
 * One in-memory DynamoDB Local, one document client (keep-alive agent with enough sockets for every client),
 * and for each concurrency N: N clients, each owning its own tenant, cycle suspend → resume →
 * complete_reactivation (active → suspended → reactivating → active) for a fixed duration. The store run
 * passes the tenant returned by the previous call (no reads); the raw run sends a TransactWriteCommand of the
 * same shape (conditional Update on state + version, Put of an audit item with attribute_not_exists(pk)).
 * Runs are interleaved and averaged, since DynamoDB Local saturates both cores and drifts. The order is
 * raw, store, store, raw (ABBA) rather than raw, store, raw, store: with ABAB a steady drift (throughput here
 * tended to climb through each block of runs) always favours the mode that runs second; ABBA cancels a linear
 * drift. Every operation must succeed: a conditional failure means the bench is wrong.
 *
 * The machine is shared and has 2 cores, so each run also records CPU time: this process's, DynamoDB Local's
 * JVM's, and everybody else's (from /proc), and warns when something else competed for the CPU.
 *
 * Environment: BENCH_SECONDS (per run, default 5), BENCH_CONCURRENCY (default "1,8,32"),
 * BENCH_WARMUP_SECONDS (per mode, default 6), BENCH_PAIRS (raw+store pairs per concurrency, default 2).
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startDynamoDbLocal, type DynamoDbLocal } from '../infra/local/dynamodb-local';
import { applyLoopbackEnvironment, newLocalCredentials, useLocalCredentials } from '../infra/local/loopback-env';
import type { LifecycleEvent, TenantState } from '../functions/lifecycle/lifecycle-table';
import { EMPTY_USAGE } from '../functions/plans/plan-catalog';
import { TenantStore, type ChangeContext, type Tenant } from '../functions/tenants/tenant-store';
import { TENANT_SK, auditSk, createTableInput, tenantPk } from '../functions/tenants/tenant-table';

// A key of this run's: DynamoDB Local keeps the bench's tables under it (see newLocalCredentials).
useLocalCredentials(newLocalCredentials());
applyLoopbackEnvironment();

const TABLE = 'bench-transitions';
const RUN_SECONDS = numberFromEnv('BENCH_SECONDS', 5);
const WARMUP_SECONDS = numberFromEnv('BENCH_WARMUP_SECONDS', 6);
const PAIRS = Math.round(numberFromEnv('BENCH_PAIRS', 2));
const CONCURRENCY = (process.env.BENCH_CONCURRENCY ?? '1,8,32').split(',').map((value) => Number(value.trim()));
if (!CONCURRENCY.every((value) => Number.isInteger(value) && value > 0)) throw new Error('BENCH_CONCURRENCY must list positive integers, e.g. 1,8,32.');
const MAX_CLIENTS = Math.max(...CONCURRENCY);
const CONTEXT: ChangeContext = { actor: 'bench' };

/** The cycle: active → suspended → reactivating → active. */
const CYCLE: readonly { event: LifecycleEvent; from: TenantState; to: TenantState }[] = [
  { event: 'suspend', from: 'active', to: 'suspended' },
  { event: 'resume', from: 'suspended', to: 'reactivating' },
  { event: 'complete_reactivation', from: 'reactivating', to: 'active' },
];

/** The update expressions the store writes for each step (origin is set only while reactivating). */
const RAW_UPDATE = CYCLE.map(({ to }) =>
  to === 'reactivating'
    ? 'SET #state = :state, #version = :version, updatedAt = :at, stateChangedAt = :stateChangedAt, origin = :origin REMOVE operationId, readOnlyReason'
    : 'SET #state = :state, #version = :version, updatedAt = :at, stateChangedAt = :stateChangedAt REMOVE origin, operationId, readOnlyReason',
);

function numberFromEnv(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number.`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------
// CPU accounting from /proc (Linux); undefined elsewhere.

const TICKS_PER_SECOND = 100;

interface CpuSample {
  /** Busy ticks of the whole machine (user, nice, system, irq, softirq). */
  readonly busy: number;
  readonly steal: number;
  readonly jvm: number;
  /** This process, in ticks. */
  readonly self: number;
}

interface CpuUse {
  /** CPU time per operation, ms. */
  readonly nodeMsPerOp: number;
  readonly jvmMsPerOp: number;
  /** Cores used by other processes during the run, and cores stolen by the hypervisor. */
  readonly otherCores: number;
  readonly stealCores: number;
}

function sampleCpu(jvmPid: number | undefined): CpuSample | undefined {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
    let jvm = 0;
    if (jvmPid !== undefined) {
      const stat = readFileSync(`/proc/${jvmPid}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      jvm = Number(after[11]) + Number(after[12]); // utime, stime (fields 14 and 15)
    }
    const { user: selfUser, system: selfSystem } = process.cpuUsage();
    return { busy: user + nice + system + irq + softirq, steal, jvm, self: ((selfUser + selfSystem) / 1e6) * TICKS_PER_SECOND };
  } catch {
    return undefined;
  }
}

function cpuUse(before: CpuSample | undefined, after: CpuSample | undefined, ops: number, seconds: number): CpuUse | undefined {
  if (!before || !after || ops === 0) return undefined;
  const ms = (ticks: number) => (ticks / TICKS_PER_SECOND) * 1000;
  const self = after.self - before.self;
  const jvm = after.jvm - before.jvm;
  return {
    nodeMsPerOp: ms(self) / ops,
    jvmMsPerOp: ms(jvm) / ops,
    otherCores: Math.max(0, after.busy - before.busy - self - jvm) / TICKS_PER_SECOND / seconds,
    stealCores: (after.steal - before.steal) / TICKS_PER_SECOND / seconds,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Per-client state that lives across runs, so every run continues each tenant's cycle where it stopped.

interface StoreClient {
  tenant: Tenant;
  step: number;
}

interface RawClient {
  readonly tenantId: string;
  step: number;
  version: number;
}

type Mode = 'store' | 'raw';

interface RunResult {
  readonly mode: Mode;
  readonly concurrency: number;
  readonly ops: number;
  readonly failures: number;
  readonly seconds: number;
  readonly txPerSec: number;
  readonly latenciesMs: number[];
  readonly cpu?: CpuUse;
}

interface Failure {
  readonly mode: Mode;
  readonly message: string;
}

const failures: Failure[] = [];

function recordFailure(mode: Mode, error: unknown): void {
  const name = (error as Error)?.name ?? 'Error';
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons;
  const detail = reasons ? ` [${reasons.map((reason) => reason.Code ?? '?').join(', ')}]` : '';
  failures.push({ mode, message: `${name}: ${(error as Error)?.message ?? String(error)}${detail}` });
}

// ---------------------------------------------------------------------------------------------------------

class Bench {
  readonly #doc: DynamoDBDocumentClient;
  readonly #store: TenantStore;
  readonly #storeClients: StoreClient[] = [];
  readonly #rawClients: RawClient[] = [];

  readonly #jvmPid: number | undefined;

  constructor(doc: DynamoDBDocumentClient, jvmPid: number | undefined) {
    this.#doc = doc;
    this.#jvmPid = jvmPid;
    this.#store = new TenantStore({ client: doc, tableName: TABLE });
  }

  /** Both modes' tenants are created the same way, so their items are the same size. */
  async createTenants(): Promise<void> {
    const runId = Date.now().toString(36);
    const create = (prefix: string, index: number) =>
      this.#store.create(
        {
          tenantId: `${prefix}-${runId}-${String(index).padStart(3, '0')}`,
          name: `Bench tenant ${prefix} ${index}`,
          email: `${prefix}-${index}@bench.example`,
          plan: 'professional',
          usage: EMPTY_USAGE,
        },
        CONTEXT,
      );
    const indexes = [...Array(MAX_CLIENTS).keys()];
    const storeTenants = await Promise.all(indexes.map((index) => create('bench-s', index)));
    const rawTenants = await Promise.all(indexes.map((index) => create('bench-r', index)));
    for (const tenant of storeTenants) this.#storeClients.push({ tenant, step: 0 });
    for (const tenant of rawTenants) {
      this.#rawClients.push({ tenantId: tenant.tenantId, step: 0, version: tenant.version });
    }
  }

  async run(mode: Mode, concurrency: number, seconds: number): Promise<RunResult> {
    const latenciesMs: number[] = [];
    let ops = 0;
    let failed = 0;
    const cpuBefore = sampleCpu(this.#jvmPid);
    const started = performance.now();
    const deadline = started + seconds * 1000;
    const worker = async (index: number) => {
      while (performance.now() < deadline) {
        const before = performance.now();
        try {
          if (mode === 'store') await this.#storeStep(this.#storeClients[index] as StoreClient);
          else await this.#rawStep(this.#rawClients[index] as RawClient);
          latenciesMs.push(performance.now() - before);
          ops += 1;
        } catch (error) {
          failed += 1;
          recordFailure(mode, error);
          await this.#resync(mode, index);
        }
      }
    };
    await Promise.all([...Array(concurrency).keys()].map(worker));
    const elapsed = (performance.now() - started) / 1000;
    const cpu = cpuUse(cpuBefore, sampleCpu(this.#jvmPid), ops, elapsed);
    return { mode, concurrency, ops, failures: failed, seconds: elapsed, txPerSec: ops / elapsed, latenciesMs, cpu };
  }

  async #storeStep(client: StoreClient): Promise<void> {
    const { event } = CYCLE[client.step] as (typeof CYCLE)[number];
    client.tenant = await this.#store.applyTransition(client.tenant, event, CONTEXT);
    client.step = (client.step + 1) % CYCLE.length;
  }

  /** The same TransactWriteItems the store sends, built with as little work as possible. */
  async #rawStep(client: RawClient): Promise<void> {
    const { event, from, to } = CYCLE[client.step] as (typeof CYCLE)[number];
    const at = new Date().toISOString();
    const version = client.version + 1;
    const pk = tenantPk(client.tenantId);
    const values: Record<string, unknown> = {
      ':state': to,
      ':version': version,
      ':at': at,
      ':stateChangedAt': at,
      ':expectedState': from,
      ':expectedVersion': client.version,
    };
    if (to === 'reactivating') values[':origin'] = from;
    await this.#doc.send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: TABLE,
              Key: { pk, sk: TENANT_SK },
              UpdateExpression: RAW_UPDATE[client.step],
              ConditionExpression: '#state = :expectedState AND #version = :expectedVersion',
              ExpressionAttributeNames: { '#state': 'state', '#version': 'version' },
              ExpressionAttributeValues: values,
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            Put: {
              TableName: TABLE,
              Item: { pk, sk: auditSk(version), type: 'audit', tenantId: client.tenantId, version, at, event, from, to, ...CONTEXT },
              ConditionExpression: 'attribute_not_exists(pk)',
            },
          },
        ],
      }),
    );
    client.version = version;
    client.step = (client.step + 1) % CYCLE.length;
  }

  /** After a failure (a bench bug), re-read the tenant so the client can go on; not timed. */
  async #resync(mode: Mode, index: number): Promise<void> {
    const client = mode === 'store' ? (this.#storeClients[index] as StoreClient) : (this.#rawClients[index] as RawClient);
    const tenantId = 'tenant' in client ? client.tenant.tenantId : client.tenantId;
    const { Item } = await this.#doc.send(new GetCommand({ TableName: TABLE, Key: { pk: tenantPk(tenantId), sk: TENANT_SK }, ConsistentRead: true }));
    if (!Item) throw new Error(`Tenant ${tenantId} vanished.`);
    const step = CYCLE.findIndex(({ from }) => from === Item.state);
    if (step < 0) throw new Error(`Tenant ${tenantId} is in unexpected state ${String(Item.state)}.`);
    if ('tenant' in client) {
      client.tenant = await this.#store.get(tenantId);
      client.step = step;
    } else {
      client.version = Item.version as number;
      client.step = step;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

const round = (value: number, digits = 1) => Number(value.toFixed(digits));

interface Summary {
  readonly concurrency: number;
  readonly storeTxPerSec: number;
  readonly rawTxPerSec: number;
  readonly ratio: number;
  readonly storeP50Ms: number;
  readonly storeP95Ms: number;
  readonly rawP50Ms: number;
  readonly rawP95Ms: number;
  readonly storeRuns: number[];
  readonly rawRuns: number[];
  readonly storeOps: number;
  readonly rawOps: number;
  /** Mean CPU per operation (ms) of this process and of DynamoDB Local, and cores used by others meanwhile. */
  readonly storeCpu?: CpuUse;
  readonly rawCpu?: CpuUse;
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function meanCpu(runs: RunResult[]): CpuUse | undefined {
  const cpus = runs.map((run) => run.cpu).filter((cpu): cpu is CpuUse => cpu !== undefined);
  if (cpus.length === 0) return undefined;
  return {
    nodeMsPerOp: round(mean(cpus.map((cpu) => cpu.nodeMsPerOp)), 3),
    jvmMsPerOp: round(mean(cpus.map((cpu) => cpu.jvmMsPerOp)), 3),
    otherCores: round(Math.max(...cpus.map((cpu) => cpu.otherCores)), 2),
    stealCores: round(Math.max(...cpus.map((cpu) => cpu.stealCores)), 2),
  };
}

function summarize(concurrency: number, runs: RunResult[]): Summary {
  const of = (mode: Mode) => runs.filter((run) => run.mode === mode);
  const latencies = (mode: Mode) => of(mode).flatMap((run) => run.latenciesMs).sort((a, b) => a - b);
  const store = latencies('store');
  const raw = latencies('raw');
  const storeTx = mean(of('store').map((run) => run.txPerSec));
  const rawTx = mean(of('raw').map((run) => run.txPerSec));
  return {
    concurrency,
    storeTxPerSec: round(storeTx),
    rawTxPerSec: round(rawTx),
    ratio: round(storeTx / rawTx, 3),
    storeP50Ms: round(percentile(store, 50), 2),
    storeP95Ms: round(percentile(store, 95), 2),
    rawP50Ms: round(percentile(raw, 50), 2),
    rawP95Ms: round(percentile(raw, 95), 2),
    storeRuns: of('store').map((run) => round(run.txPerSec)),
    rawRuns: of('raw').map((run) => round(run.txPerSec)),
    storeOps: store.length,
    rawOps: raw.length,
    storeCpu: meanCpu(of('store')),
    rawCpu: meanCpu(of('raw')),
  };
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((cell, column) => cell.padStart(widths[column] as number)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

function printResults(summaries: Summary[]): void {
  printTable(
    ['concurrency', 'store tx/s', 'raw tx/s', 'ratio (store/raw)', 'store p50/p95 ms', 'raw p50/p95 ms'],
    summaries.map((s) => [
      String(s.concurrency),
      s.storeTxPerSec.toFixed(1),
      s.rawTxPerSec.toFixed(1),
      s.ratio.toFixed(3),
      `${s.storeP50Ms.toFixed(1)} / ${s.storeP95Ms.toFixed(1)}`,
      `${s.rawP50Ms.toFixed(1)} / ${s.rawP95Ms.toFixed(1)}`,
    ]),
  );
  if (!summaries.every((s) => s.storeCpu && s.rawCpu)) return;
  console.log('');
  console.log('CPU per operation (ms): this process (client) and DynamoDB Local (JVM); other = peak cores used by other processes');
  const cpu = (use: CpuUse) => `${use.nodeMsPerOp.toFixed(2)} / ${use.jvmMsPerOp.toFixed(2)}`;
  printTable(
    ['concurrency', 'store node/jvm', 'raw node/jvm', 'other cores', 'steal cores'],
    summaries.map((s) => {
      const store = s.storeCpu as CpuUse;
      const raw = s.rawCpu as CpuUse;
      return [
        String(s.concurrency),
        cpu(store),
        cpu(raw),
        Math.max(store.otherCores, raw.otherCores).toFixed(2),
        Math.max(store.stealCores, raw.stealCores).toFixed(2),
      ];
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------

let dynamo: DynamoDbLocal | undefined;
let stopping: Promise<void> | undefined;

/** Stop DynamoDB Local once, however we got here. */
function stopDynamo(): Promise<void> {
  stopping ??= dynamo ? dynamo.stop() : Promise.resolve();
  return stopping;
}

/** Set once we are told to stop; the exit code to leave with. */
let interrupted: { readonly reason: string; readonly exitCode: number } | undefined;

function interrupt(reason: string, exitCode: number): void {
  if (interrupted) return;
  interrupted = { reason, exitCode };
  console.error(`\n${reason}: stopping DynamoDB Local…`);
  // While DynamoDB Local is still starting, main() stops it as soon as start returns.
  if (dynamo) void stopDynamo().then(() => process.exit(exitCode));
}

process.on('SIGINT', () => interrupt('SIGINT', 130));
process.on('SIGTERM', () => interrupt('SIGTERM', 143));

/** Our parent's parent (Linux); undefined when /proc cannot tell. */
function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

// `npm run` starts us through `sh -c`, which does not pass SIGTERM on: `kill <npm pid>` (or `timeout`) kills
// npm and sh and leaves us running. Stop when the processes that launched us are gone.
const launcher = { parent: process.ppid, grandparent: parentOf(process.ppid) };
if (launcher.grandparent !== undefined && launcher.grandparent > 1) {
  setInterval(() => {
    if (process.ppid !== launcher.parent || parentOf(launcher.parent) !== launcher.grandparent) interrupt('launcher gone', 143);
  }, 1000).unref();
}

// Last resort if the process exits some other way: never leave the JVM behind.
process.on('exit', () => {
  if (dynamo && dynamo.process.exitCode === null && dynamo.process.signalCode === null) dynamo.process.kill('SIGKILL');
});

async function main(): Promise<void> {
  const benchStarted = performance.now();
  const log = (message: string) => console.log(`[${((performance.now() - benchStarted) / 1000).toFixed(1).padStart(5)} s] ${message}`);

  log('starting DynamoDB Local (in memory)…');
  dynamo = await startDynamoDbLocal();
  if (interrupted) {
    await stopDynamo();
    process.exit(interrupted.exitCode);
  }
  log(`DynamoDB Local on ${dynamo.endpoint}`);

  const client = new DynamoDBClient({
    endpoint: dynamo.endpoint,
    region: process.env.AWS_REGION,
    // No retries: a failure must show up as a failure, not as a slower operation.
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({
      httpAgent: new Agent({ keepAlive: true, maxSockets: 128 }),
      connectionTimeout: 5_000,
      requestTimeout: 30_000,
    }),
  });
  const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
  try {
    await client.send(new CreateTableCommand(createTableInput(TABLE)));
    const bench = new Bench(doc, dynamo.process.pid);
    await bench.createTenants();
    log(`created ${MAX_CLIENTS} tenants per mode`);

    log(`warm-up: ${WARMUP_SECONDS} s per mode at ${MAX_CLIENTS} clients`);
    for (const mode of ['raw', 'store'] as const) await bench.run(mode, MAX_CLIENTS, WARMUP_SECONDS);

    const summaries: Summary[] = [];
    for (const concurrency of CONCURRENCY) {
      const runs: RunResult[] = [];
      for (let pair = 0; pair < PAIRS; pair += 1) {
        for (const mode of pair % 2 === 0 ? (['raw', 'store'] as const) : (['store', 'raw'] as const)) {
          if (interrupted) return;
          const result = await bench.run(mode, concurrency, RUN_SECONDS);
          runs.push(result);
          const other = result.cpu && result.cpu.otherCores >= 0.15 ? `  ! other processes used ${result.cpu.otherCores.toFixed(2)} cores` : '';
          log(
            `${String(concurrency).padStart(2)} clients  ${mode.padEnd(5)} ${result.txPerSec.toFixed(1).padStart(6)} tx/s  (${result.ops} ops, ${result.failures} failures)${other}`,
          );
        }
      }
      summaries.push(summarize(concurrency, runs));
    }

    const totalSeconds = (performance.now() - benchStarted) / 1000;
    console.log('');
    printResults(summaries);
    console.log('');
    const storeFailures = failures.filter((failure) => failure.mode === 'store').length;
    const rawFailures = failures.length - storeFailures;
    console.log(`failures: ${failures.length} (store ${storeFailures}, raw ${rawFailures}, warm-up included)`);
    for (const message of [...new Set(failures.map((failure) => `${failure.mode}: ${failure.message}`))].slice(0, 5)) console.log(`  ${message}`);
    const busy = summaries.some((summary) => Math.max(summary.storeCpu?.otherCores ?? 0, summary.rawCpu?.otherCores ?? 0) >= 0.15);
    if (busy) console.log('warning: other processes competed for the CPU during some runs; those figures are noisy.');
    console.log(`per run: ${RUN_SECONDS} s, ${PAIRS * 2} runs per concurrency (raw, store, store, raw, …); total ${totalSeconds.toFixed(1)} s`);
    console.log(
      JSON.stringify({
        bench: 'transitions',
        runSeconds: RUN_SECONDS,
        warmupSeconds: WARMUP_SECONDS,
        pairs: PAIRS,
        node: process.version,
        results: summaries,
        failures: failures.length,
        totalSeconds: round(totalSeconds),
      }),
    );
    if (failures.length > 0) process.exitCode = 1;
  } finally {
    doc.destroy();
    await stopDynamo();
  }
}

main().catch(async (error: unknown) => {
  console.error(error);
  await stopDynamo();
  process.exit(1);
});
