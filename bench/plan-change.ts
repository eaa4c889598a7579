/**
 * Plan-change workflow under load: N concurrent upgrades of N tenants through the local workflow runner (the
 * real ASL in aws-local-stepfunctions, the real steps, DynamoDB Local, the local billing ledger), then the
 * same with a fraction of the Task steps failing. Every operation must end stable: the tenant active, on the
 * new plan and charged once if it succeeded, on its old plan with no charge and nothing provisioned if it
 * rolled back, never left upgrading or read-only.
 *
 * The upgrades run first on a fresh stack (`cold`: what a user's first upgrades after `npm start` meet), then, after
 * warm-up rounds, `clean` and `faults`; each with its P50/P95, DynamoDB calls per upgrade and the CPU per upgrade of
 * this process and of DynamoDB Local.
 *
 * Then N period-end downgrades: scheduled concurrently (latency of the 202), then all due at the same instant
 * (a calendar-month period ends for every tenant at once) and fired by the local scheduler; again clean and
 * with faults. Stable means: on the new plan with billing scheduled once, or on the old plan with the
 * schedule cancelled; never left downgrading, read-only, or with a scheduled change pending.
 *
 *   npm run bench:plan-change          (BENCH_TENANTS=100, BENCH_FAULT_RATE=0.1, BENCH_WARMUP_MAX_ROUNDS=6)
 */
import { performance } from 'node:perf_hooks';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoDbLocal, type DynamoDbLocal } from '../infra/local/dynamodb-local';
import { applyLoopbackEnvironment, newLocalCredentials, useLocalCredentials } from '../infra/local/loopback-env';
import { countDynamoDbCalls } from '../test/support/dynamodb-call-counter';
import { InjectedFault } from '../test/support/injected-fault';
import { ownCpuMs, processTreeCpuMs } from './process-cpu';
import { seeded } from './seeded';

// A key of this run's: DynamoDB Local keeps the bench's tables under it (see newLocalCredentials).
useLocalCredentials(newLocalCredentials());
applyLoopbackEnvironment();
const TENANTS = Number(process.env.BENCH_TENANTS ?? 100);
const FAULT_RATE = Number(process.env.BENCH_FAULT_RATE ?? 0.1);
/** Most warm-up rounds before the reported ones (BENCH_WARMUP_MAX_ROUNDS). */
const WARMUP_MAX_ROUNDS = Number(process.env.BENCH_WARMUP_MAX_ROUNDS ?? 6);
/** Warm-up ends when a round's wall time is within this fraction of the previous round's. */
const WARMUP_SETTLED = 0.1;



function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function main(): Promise<void> {
  let dynamo: DynamoDbLocal | undefined;
  const stop = async () => {
    await dynamo?.stop();
  };
  process.on('SIGINT', () => void stop().then(() => process.exit(130)));
  process.on('SIGTERM', () => void stop().then(() => process.exit(143)));
  try {
    dynamo = await startDynamoDbLocal();
    // CPU of the emulator (the JVM under its shell guard), against this process's: where an upgrade's work is done.
    const emulatorPid = dynamo.process.pid ?? -1;
    const emulatorCpuMs = () => processTreeCpuMs(emulatorPid) ?? Number.NaN;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynamo.endpoint;
    process.env.TABLE_NAME = 'bench-plan-change';
    process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';

    // Configuration is read at import: import the functions after the environment is set.
    const { getDocumentClient } = await import('../functions/shared/aws-clients');
    const { createTableInput } = await import('../functions/tenants/tenant-table');
    const { tenantStore } = await import('../functions/tenants/tenant-service');
    const { planChangeDependencies } = await import('../functions/plan-change/plan-change-deps');
    const { requestPlanChange } = await import('../functions/plan-change/plan-change-service');
    const { LedgerBilling } = await import('../functions/billing');
    const { LocalProvisioner } = await import('../functions/provisioning/provisioner');
    const { LocalWorkflowRunner } = await import('../infra/local/local-workflow-runner');

    const client = getDocumentClient();
    await client.send(new CreateTableCommand(createTableInput('bench-plan-change')));
    // Every DynamoDB request of the functions, the local ledger and the local provisioner (one shared client).
    const calls = countDynamoDbCalls(client);
    /** Requests per operation per change since `calls.reset()`, for `changes` changes. */
    const callsPer = (changes: number) => {
      const counts = calls.counts();
      const milliseconds = calls.milliseconds();
      return {
        total: calls.total() / changes,
        perCommand: Object.fromEntries(Object.entries(counts).sort().map(([name, n]) => [name, n / changes])),
        // Mean time of one request of each operation, from sending to the answer (queueing under concurrency included).
        meanMs: Object.fromEntries(Object.entries(counts).sort().map(([name, n]) => [name, (milliseconds[name] ?? 0) / n])),
      };
    };
    const ledger = new LedgerBilling({ client, tableName: 'bench-plan-change' });
    const provisioner = new LocalProvisioner({ client, tableName: 'bench-plan-change' });

    /**
     * The local runner with each working step failing with probability faultRate: half before its work, half
     * after it (the work happened, its answer was lost). Seeded, so a run's faults can be reproduced.
     */
    const faultyRunner = (seed: number, faultRate: number) => {
      const random = seeded(seed);
      const counts = { injected: 0 };
      const unexpected: unknown[] = [];
      const runner = new LocalWorkflowRunner({
        dependencies: planChangeDependencies,
        onError: (error) => unexpected.push(error),
        faults: (state, phase) => {
          if (state !== 'Compensate' && random() < faultRate / 2) {
            counts.injected += 1;
            throw new InjectedFault(`injected into ${state} (${phase} its work)`);
          }
        },
      });
      return { runner, injected: () => counts.injected, unexpected };
    };

    const round = async (label: string, faultRate: number) => {
      const { runner, injected, unexpected } = faultyRunner(42, faultRate);
      const deps = { ...planChangeDependencies(), runner };
      const ids = Array.from({ length: TENANTS }, (_, i) => `${label}-${String(i).padStart(3, '0')}`);
      for (const tenantId of ids) {
        await tenantStore().create(
          { tenantId, name: tenantId, email: `${tenantId}@bench.example`, plan: 'starter', usage: { queriesPerMonth: 10, storageGb: 0.1, documents: 10, users: 2 } },
          { actor: 'bench' },
        );
      }

      const cpuBefore = { own: ownCpuMs(), emulator: emulatorCpuMs() };
      const started = performance.now();
      calls.reset();
      const operations = await Promise.all(
        ids.map(async (tenantId) => {
          const t0 = Date.now();
          const answer = await requestPlanChange(deps, tenantId, { plan: 'professional', dryRun: false, drainTimeoutSeconds: 30 }, 'bench');
          return { tenantId, t0, operationId: answer.body.operationId as string };
        }),
      );
      await runner.idle();
      const wall = (performance.now() - started) / 1000;
      const cpu = { own: (ownCpuMs() - cpuBefore.own) / TENANTS, emulator: (emulatorCpuMs() - cpuBefore.emulator) / TENANTS };
      const perUpgrade = callsPer(TENANTS); // from the request to the end of the execution

      const latencies: number[] = [];
      let succeeded = 0;
      let rolledBack = 0;
      const unstable: string[] = [];
      for (const { tenantId, t0, operationId } of operations) {
        const operation = await deps.operations.get(operationId);
        const tenant = await tenantStore().get(tenantId);
        latencies.push(Date.parse(operation.finishedAt ?? operation.updatedAt) - t0);
        const balance = await ledger.balance(tenantId);
        const outstanding = (await provisioner.outstanding(tenantId)).map((entry) => entry.operationId);
        const stable =
          operation.status === 'succeeded'
            ? tenant.state === 'active' && tenant.plan === 'professional' && !tenant.readOnlyReason && balance > 0 && outstanding.join() === operationId
            : operation.status === 'rolled_back' && tenant.state === 'active' && tenant.plan === 'starter' && !tenant.readOnlyReason && balance === 0 && outstanding.length === 0;
        if (operation.status === 'succeeded') succeeded += 1;
        if (operation.status === 'rolled_back') rolledBack += 1;
        if (!stable) unstable.push(`${tenantId} (${operation.status}, ${tenant.state}, ${tenant.plan})`);
      }
      latencies.sort((a, b) => a - b);
      return { label, faultRate, injected: injected(), succeeded, rolledBack, unstable, unexpected: unexpected.length, wall, p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies[latencies.length - 1] ?? Number.NaN, calls: perUpgrade, cpu };
    };

    const { LocalScheduler } = await import('../functions/scheduler/local-scheduler');
    const { startScheduledPlanChange } = await import('../functions/plan-change/scheduled-plan-change');
    const { calendarMonth } = await import('../functions/billing/ledger-billing');

    const periodEndRound = async (label: string, faultRate: number) => {
      const { runner, injected, unexpected } = faultyRunner(7, faultRate);
      const periodEnd = calendarMonth(new Date()).end;
      const deps = { ...planChangeDependencies(), runner, now: () => periodEnd };
      const scheduler = new LocalScheduler({
        client,
        tableName: 'bench-plan-change',
        handlers: { 'plan-change.period-end': async (event) => void (await startScheduledPlanChange(deps, String(event.payload.operationId))) },
      });
      const ids = Array.from({ length: TENANTS }, (_, i) => `${label}-${String(i).padStart(3, '0')}`);
      for (const tenantId of ids) {
        await tenantStore().create(
          { tenantId, name: tenantId, email: `${tenantId}@bench.example`, plan: 'professional', usage: { queriesPerMonth: 10, storageGb: 0.1, documents: 10, users: 2 } },
          { actor: 'bench' },
        );
      }
      const scheduling: number[] = [];
      const operations = await Promise.all(
        ids.map(async (tenantId) => {
          const t0 = performance.now();
          const answer = await requestPlanChange({ ...planChangeDependencies(), runner }, tenantId, { plan: 'starter', dryRun: false, drainTimeoutSeconds: 30 }, 'bench');
          scheduling.push(performance.now() - t0);
          return { tenantId, operationId: answer.body.operationId as string };
        }),
      );
      const fireStarted = Date.now();
      const fired = await scheduler.fireDue(periodEnd);
      await runner.idle();
      const wall = (Date.now() - fireStarted) / 1000;

      const latencies: number[] = [];
      let succeeded = 0;
      let rolledBack = 0;
      const unstable: string[] = [];
      for (const { tenantId, operationId } of operations) {
        const operation = await deps.operations.get(operationId);
        const tenant = await tenantStore().get(tenantId);
        latencies.push(Date.parse(operation.finishedAt ?? operation.updatedAt) - fireStarted);
        const kinds = (await ledger.ledgerEntries(tenantId)).map((entry) => entry.kind).join();
        const settled = tenant.state === 'active' && !tenant.readOnlyReason && !tenant.scheduledPlanChange;
        const stable =
          operation.status === 'succeeded'
            ? settled && tenant.plan === 'starter' && kinds === 'schedule'
            : operation.status === 'rolled_back' && settled && tenant.plan === 'professional' && kinds === 'schedule,schedule_cancelled';
        if (operation.status === 'succeeded') succeeded += 1;
        if (operation.status === 'rolled_back') rolledBack += 1;
        if (!stable) unstable.push(`${tenantId} (${operation.status}, ${tenant.state}, ${tenant.plan}, ${kinds})`);
      }
      latencies.sort((a, b) => a - b);
      scheduling.sort((a, b) => a - b);
      return {
        label, faultRate, injected: injected(), succeeded, rolledBack, unstable, unexpected: unexpected.length + fired.failed.length, wall,
        p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: latencies[latencies.length - 1] ?? Number.NaN,
        scheduleP50: Math.round(percentile(scheduling, 50)), scheduleP95: Math.round(percentile(scheduling, 95)),
      };
    };

    // The first round runs on a fresh DynamoDB Local and a fresh Node process, as a user's first upgrades after
    // `npm start` do (and as the bench measured before it had a warm-up): reported as `cold`, much of it JIT
    // compiling. Then warm-up rounds, not reported, until one's wall time is within WARMUP_SETTLED of the round
    // before it (at most WARMUP_MAX_ROUNDS), so that `clean` and `faults` measure the upgrades rather than how far
    // the JITs have got; their walls are printed.
    const cold = await round('cold', 0);
    const warmUp: number[] = [cold.wall];
    for (let i = 0; i < WARMUP_MAX_ROUNDS; i += 1) {
      warmUp.push((await round(`warm-up-${i}`, 0)).wall);
      const [before, last] = warmUp.slice(-2) as [number, number];
      if (Math.abs(last - before) <= WARMUP_SETTLED * before) break;
    }
    const clean = await round('clean', 0);
    const results = [cold, clean, await round('faults', FAULT_RATE)];
    const periodEnd = [await periodEndRound('period-end', 0), await periodEndRound('period-end-faults', FAULT_RATE)];
    process.stdout.write(`\nwall s of the cold round and the warm-ups after it (the warm-ups not reported below): ${warmUp.map((w) => w.toFixed(1)).join(', ')}\n`);
    process.stdout.write(`\n${TENANTS} concurrent upgrades (starter → professional) through the local workflow runner\n\n`);
    process.stdout.write('| run | fault rate | faults injected | succeeded | rolled back | unstable | P50 ms | P95 ms | max ms | wall s |\n');
    process.stdout.write('|-----|-----------:|----------------:|----------:|------------:|---------:|-------:|-------:|-------:|-------:|\n');
    for (const r of results) {
      process.stdout.write(
        `| ${r.label} | ${r.faultRate} | ${r.injected} | ${r.succeeded} | ${r.rolledBack} | ${r.unstable.length} | ${r.p50} | ${r.p95} | ${r.max} | ${r.wall.toFixed(1)} |\n`,
      );
    }
    process.stdout.write('\nDynamoDB calls per upgrade (counted by a middleware on the client: request, execution, local ledger and provisioner)\n\n');
    const commands = [...new Set(results.flatMap((r) => Object.keys(r.calls.perCommand)))].sort();
    process.stdout.write(`| run | ${commands.join(' | ')} | total |\n|-----|${commands.map(() => '---:|').join('')}------:|\n`);
    for (const r of results) {
      process.stdout.write(`| ${r.label} | ${commands.map((name) => (r.calls.perCommand[name] ?? 0).toFixed(2)).join(' | ')} | ${r.calls.total.toFixed(2)} |\n`);
    }
    process.stdout.write(`calls per upgrade (clean run): ${clean.calls.total.toFixed(2)}\n`);
    // Both processes share the machine's cores: an upgrade's P95 under 100-way concurrency follows their sum.
    process.stdout.write('\nCPU ms per upgrade: this process (workflow runner, steps, AWS SDK) and DynamoDB Local (its JVM)\n\n');
    process.stdout.write('| run | this process | DynamoDB Local | both |\n|-----|-----:|-----:|-----:|\n');
    for (const r of results) process.stdout.write(`| ${r.label} | ${r.cpu.own.toFixed(1)} | ${r.cpu.emulator.toFixed(1)} | ${(r.cpu.own + r.cpu.emulator).toFixed(1)} |\n`);
    process.stdout.write(`P95 ms cold (first round on a fresh stack): ${cold.p95}\nP95 ms warm (clean run): ${clean.p95}\n`);
    // Where an upgrade's time goes: a request's mean time (sending to answer) under the round's concurrency. Summed
    // over one upgrade's requests, against its P50, it says how much of an upgrade is waiting on DynamoDB (Local).
    process.stdout.write('\nMean ms per DynamoDB request (sending to answer, queueing included), and the sum over one upgrade\n\n');
    process.stdout.write(`| run | ${commands.join(' | ')} | per upgrade | P50 ms |\n|-----|${commands.map(() => '---:|').join('')}------:|-------:|\n`);
    for (const r of results) {
      const perUpgrade = commands.reduce((sum, name) => sum + (r.calls.perCommand[name] ?? 0) * (r.calls.meanMs[name] ?? 0), 0);
      process.stdout.write(`| ${r.label} | ${commands.map((name) => (r.calls.meanMs[name] ?? 0).toFixed(0)).join(' | ')} | ${perUpgrade.toFixed(0)} | ${r.p50} |\n`);
    }
    process.stdout.write(`\n${TENANTS} period-end downgrades (professional → starter): scheduled concurrently, then all due at once and fired by the local scheduler\n\n`);
    process.stdout.write('| run | fault rate | faults injected | succeeded | rolled back | unstable | schedule P50 ms | schedule P95 ms | P50 ms from fire | P95 ms | max ms | wall s |\n');
    process.stdout.write('|-----|-----------:|----------------:|----------:|------------:|---------:|----------------:|----------------:|-----------------:|-------:|-------:|-------:|\n');
    for (const r of periodEnd) {
      process.stdout.write(
        `| ${r.label} | ${r.faultRate} | ${r.injected} | ${r.succeeded} | ${r.rolledBack} | ${r.unstable.length} | ${r.scheduleP50} | ${r.scheduleP95} | ${r.p50} | ${r.p95} | ${r.max} | ${r.wall.toFixed(1)} |\n`,
      );
    }
    const all = [...results, ...periodEnd];
    for (const r of all) if (r.unstable.length > 0) process.stdout.write(`UNSTABLE in ${r.label}: ${r.unstable.slice(0, 10).join('; ')}\n`);
    process.stdout.write(`${JSON.stringify({ bench: 'plan-change', tenants: TENANTS, results: all.map(({ unstable, ...rest }) => ({ ...rest, unstable: unstable.length })) })}\n`);
    const failed = all.some((r) => r.unstable.length > 0 || r.unexpected > 0 || r.succeeded + r.rolledBack !== TENANTS);
    await stop();
    process.exit(failed ? 1 : 0);
  } catch (error) {
    process.stderr.write(`bench:plan-change failed: ${(error as Error).stack ?? String(error)}\n`);
    await stop();
    process.exit(1);
  }
}

void main();
