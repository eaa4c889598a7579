/**
 * The metrics operators alarm on, as CloudWatch would receive them (the EMF documents Powertools writes to
 * stdout), for one tenant driven through the API: every entry added to the tenant's audit trail is counted
 * once in `Transitions`, with its event, from and to states (checked against the lifecycle table), and every
 * workflow end is counted once in `WorkflowEnded` with its outcome and duration.
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'false';

import { LIFECYCLE_TABLE, ORIGIN, type LifecycleEvent } from '../../functions/lifecycle/lifecycle-table';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { OperationStore } from '../../functions/operations/operation-store';
import { planChangeDependencies } from '../../functions/plan-change/plan-change-deps';
import { STUCK_AFTER_SECONDS, sweepStuckOperations } from '../../functions/workflows/sweep-stuck-operations';
import { config } from '../../functions/shared/config';
import { CHANGE_EVENTS, CREATE_EVENT } from '../../functions/tenants/tenant-store';
import { setWorkflowRunner } from '../../functions/workflows/workflow-runner';
import { workflowDefinitions } from '../../functions/workflows/registry';
import { LocalWorkflowRunner } from '../../infra/local/local-workflow-runner';
import { ApiHarness, type ApiResponse } from '../support/api-harness';
import { captureLogs } from '../support/captured-logs';

type Body = Record<string, unknown>;
type Entry = { version: number; event: string; from: string | null; to: string; operationId?: string };
type Emf = Record<string, unknown> & { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> } };

const api = new ApiHarness();
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies });
const TENANT = 'metrics-a';
let logs: ReturnType<typeof captureLogs>;

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
  logs = captureLogs();
});
afterAll(async () => {
  logs.restore();
  await runner.idle();
  await api.stop();
});

/** The EMF documents captured since the last clear that carry `metric`, with exactly the dimensions `dimensions` (besides `service`). */
function documents(metric: string, dimensions: readonly string[]): Emf[] {
  return logs
    .entries()
    .filter((entry): entry is Emf => '_aws' in entry && metric in entry)
    .filter((doc) => JSON.stringify(doc._aws.CloudWatchMetrics[0]?.Dimensions) === JSON.stringify([['service', ...dimensions]]));
}

async function history(): Promise<Entry[]> {
  const page = await api.request<{ items: Entry[] }>('GET', `/tenants/${TENANT}/history?limit=100`);
  expect(page.status).toBe(200);
  return page.body.items.reverse();
}

interface Step {
  readonly title: string;
  readonly send: () => Promise<ApiResponse<Body>>;
  readonly status: number;
  /** The workflow outcome the step ends with, if it starts or ends one. */
  readonly outcome?: string;
}

/** Every kind of change a caller can make to a tenant through the API, workflows awaited. */
const STEPS: readonly Step[] = [
  { title: 'create', send: () => api.request('POST', '/tenants', { body: { tenantId: TENANT, name: 'Metrics A', email: 'a@metrics.example', plan: 'starter' } }), status: 201 },
  { title: 'suspend', send: () => api.request('POST', `/tenants/${TENANT}/suspend`, { body: {} }), status: 200 },
  { title: 'resume', send: () => api.request('POST', `/tenants/${TENANT}/resume`, { body: {} }), status: 200 },
  { title: 'upgrade', send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'professional' } }), status: 202, outcome: 'succeeded' },
  { title: 'immediate downgrade', send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'starter', effective: 'immediately' } }), status: 202, outcome: 'succeeded' },
  { title: 'upgrade again', send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'professional' } }), status: 202, outcome: 'succeeded' },
  { title: 'downgrade at the period end', send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'starter' } }), status: 202 },
  { title: 'scheduled downgrade cancelled', send: () => api.request('DELETE', `/tenants/${TENANT}/scheduled-plan-change`, { body: {} }), status: 200, outcome: 'cancelled' },
  { title: 'lease that outlives the drain', send: () => api.request('POST', `/tenants/${TENANT}/leases`, { token: api.tenantToken(TENANT), body: { holder: 'stuck', ttlSeconds: 120 } }), status: 201 },
  { title: 'upgrade rolled back', send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'enterprise', drainTimeoutSeconds: 1 } }), status: 202, outcome: 'rolled_back' },
];

describe('Metrics: Transitions for every transition, WorkflowEnded for every workflow end', () => {
  it('should count each audit entry once in Transitions with its event, from and to, and each workflow end once with its outcome and duration', async () => {
    let seen = 0;
    const counted = new Set<string>();
    for (const step of STEPS) {
      logs.clear();
      const started = Date.now();
      const response = await step.send();
      expect([step.title, response.status]).toEqual([step.title, step.status]);
      await runner.idle();
      const elapsed = Date.now() - started;

      const all = await history();
      const added = all.slice(seen).map((entry) => ({ event: entry.event, from: entry.from ?? 'none', to: entry.to }));
      seen = all.length;
      // Each entry once by event, from and to, and once by event alone.
      const transitions = documents('Transitions', ['event', 'from', 'to']);
      expect([step.title, transitions.map((doc) => ({ event: doc.event, from: doc.from, to: doc.to }))]).toEqual([step.title, added]);
      expect([step.title, documents('Transitions', ['event']).map((doc) => doc.event)]).toEqual([step.title, added.map((entry) => entry.event)]);
      for (const doc of [...transitions, ...documents('Transitions', ['event'])]) {
        expect(doc.Transitions).toBe(1);
        const metric = doc._aws.CloudWatchMetrics[0];
        expect(metric?.Namespace).toBe('TenantLifecycle');
        expect(metric?.Metrics).toEqual([{ Name: 'Transitions', Unit: 'Count' }]);
        counted.add(String(doc.event));
      }

      // Each end once by workflow and outcome, and once by workflow alone.
      expect([step.title, documents('WorkflowEnded', ['workflow']).map((doc) => doc.workflow)]).toEqual([step.title, step.outcome ? ['plan-change'] : []]);
      const ended = documents('WorkflowEnded', ['workflow', 'outcome']);
      expect([step.title, ended.map((doc) => ({ workflow: doc.workflow, outcome: doc.outcome }))]).toEqual([step.title, step.outcome ? [{ workflow: 'plan-change', outcome: step.outcome }] : []]);
      for (const doc of ended) {
        expect(doc.WorkflowEnded).toBe(1);
        expect(doc.WorkflowDuration).toEqual(expect.any(Number));
        // Measured from when the workflow started running, so within the request and the workflow's run.
        expect(doc.WorkflowDuration as number).toBeGreaterThanOrEqual(0);
        if (step.outcome !== 'cancelled') expect(doc.WorkflowDuration as number).toBeLessThanOrEqual(elapsed);
        // WorkflowFailed, per run that started: its Average is the share the failure alarm watches.
        expect(doc._aws.CloudWatchMetrics[0]?.Metrics).toEqual([
          { Name: 'WorkflowEnded', Unit: 'Count' },
          { Name: 'WorkflowDuration', Unit: 'Milliseconds' },
          ...(step.outcome === 'cancelled' ? [] : [{ Name: 'WorkflowFailed', Unit: 'Count' }]),
        ]);
        expect(doc.WorkflowFailed).toBe({ succeeded: 0, rolled_back: 1, cancelled: undefined }[step.outcome as string]);
      }
    }

    // What was counted is what the lifecycle table (and the store's change events) defines, and covers every
    // event the API can cause today.
    const all = await history();
    for (const entry of all) {
      if (entry.event === CREATE_EVENT || Object.values(CHANGE_EVENTS).includes(entry.event as never)) continue;
      const rule = LIFECYCLE_TABLE[entry.event as LifecycleEvent];
      expect([entry.event, (rule.from as readonly string[]).includes(entry.from as string)]).toEqual([entry.event, true]);
      if (rule.to !== ORIGIN) expect([entry.event, entry.to]).toEqual([entry.event, rule.to]);
    }
    expect([...counted].sort()).toEqual(
      [
        CREATE_EVENT,
        'suspend',
        'resume',
        'complete_reactivation',
        'initiate_upgrade',
        'complete_upgrade',
        'rollback_upgrade',
        'initiate_downgrade',
        'complete_downgrade',
        CHANGE_EVENTS.startReadOnlyWindow,
        CHANGE_EVENTS.schedulePlanChange,
        CHANGE_EVENTS.cancelScheduledPlanChange,
      ].sort(),
    );
  });

  it('should have the sweeper report, per workflow, the age of the oldest unfinished operation (0 when there is none)', async () => {
    const deps = { ...planChangeDependencies(), runner };
    logs.clear();
    await sweepStuckOperations(deps, { now: new Date() });
    const none = documents('OldestUnfinishedOperationAge', ['workflow']);
    // One datapoint per workflow of the registry, in its order.
    expect(none.map((doc) => ({ workflow: doc.workflow, age: doc.OldestUnfinishedOperationAge }))).toEqual(workflowDefinitions().map(({ name }) => ({ workflow: name, age: 0 })));
    expect(none.map((doc) => doc.workflow)).toEqual(['plan-change', 'export', 'hard-delete', 'reactivation']);
    expect(none[0]?._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'TenantLifecycle', Dimensions: [['service', 'workflow']], Metrics: [{ Name: 'OldestUnfinishedOperationAge', Unit: 'Seconds' }] });

    // Two operations left running (a crash before their execution started, say), started 20 and 10 minutes
    // before the sweep: past the workflow's 900 s timeout, not yet old enough for the sweeper to undo.
    const t0 = Date.parse('2026-11-01T10:00:00.000Z');
    for (const [id, startedAt] of [['op_age_old', t0], ['op_age_new', t0 + 600_000]] as const) {
      const store = new OperationStore({ client: api.documentClient, tableName: config.tableName, now: () => new Date(startedAt) });
      const item = store.newItem({ operationId: id, tenantId: 'metrics-b', workflow: 'plan-change', input: { operationId: id, tenantId: 'metrics-b' }, requestedBy: 'operator@test' });
      await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: item }));
    }
    const sweepAt = new Date(t0 + 1_200_000);
    // An export started a minute before the sweep, its answer due a day after it (GDPR Art. 12(3)): near its due date.
    const exportStore = new OperationStore({ client: api.documentClient, tableName: config.tableName, now: () => new Date(t0 + 1_140_000) });
    const dueAt = new Date(t0 + 1_200_000 + 86_400_000).toISOString();
    await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: exportStore.newItem({ operationId: 'op_due_soon', tenantId: 'metrics-b', workflow: 'export', input: { operationId: 'op_due_soon', tenantId: 'metrics-b', dueAt }, requestedBy: 'operator@test' }) }));
    expect(1_200).toBeLessThan(STUCK_AFTER_SECONDS);
    logs.clear();
    const result = await sweepStuckOperations(deps, { now: sweepAt });
    expect(result.compensated).toEqual([]);
    expect(documents('OldestUnfinishedOperationAge', ['workflow']).map((doc) => ({ workflow: doc.workflow, age: doc.OldestUnfinishedOperationAge }))).toEqual([
      { workflow: 'plan-change', age: 1_200 },
      { workflow: 'export', age: 60 },
      { workflow: 'hard-delete', age: 0 },
      { workflow: 'reactivation', age: 0 },
    ]);
    // The GDPR clock, from the same read: the export is due within 7 days; plan changes have no due date.
    expect(documents('UnfinishedNearDue', ['workflow']).map((doc) => ({ workflow: doc.workflow, count: doc.UnfinishedNearDue }))).toEqual([
      { workflow: 'plan-change', count: 0 },
      { workflow: 'export', count: 1 },
      { workflow: 'hard-delete', count: 0 },
      { workflow: 'reactivation', count: 0 },
    ]);
  });

  it('should count an end once, also when the store that ends it never saw the operation, and not when the end was already written', async () => {
    // Arrange: created (running) by one container's store, ended by another's (the timeout function, say).
    const startedAt = Date.now() - 4_000;
    const creator = new OperationStore({ client: api.documentClient, tableName: config.tableName, now: () => new Date(startedAt) });
    const item = creator.newItem({ operationId: 'op_end_once', tenantId: 'metrics-c', workflow: 'plan-change', input: {}, requestedBy: 'operator@test' });
    await api.documentClient.send(new PutCommand({ TableName: config.tableName, Item: item }));
    const ender = new OperationStore({ client: api.documentClient, tableName: config.tableName });
    logs.clear();

    // Act: the end, then a retry of the same end (a second compensation), which writes nothing.
    expect(await ender.finish('op_end_once', 'rolled_back', 'running', { code: 'Test', message: 'ended by another store' })).toBe(true);
    expect(await ender.finish('op_end_once', 'rolled_back', 'running')).toBe(false);

    // Assess
    const ended = documents('WorkflowEnded', ['workflow', 'outcome']);
    expect(documents('WorkflowEnded', ['workflow'])).toHaveLength(1);
    expect(ended.map((doc) => ({ workflow: doc.workflow, outcome: doc.outcome, failed: doc.WorkflowFailed }))).toEqual([{ workflow: 'plan-change', outcome: 'rolled_back', failed: 1 }]);
    expect(ended[0]?.WorkflowDuration as number).toBeGreaterThanOrEqual(4_000);
    expect(ended[0]?.WorkflowDuration as number).toBeLessThan(60_000);
  });
});
