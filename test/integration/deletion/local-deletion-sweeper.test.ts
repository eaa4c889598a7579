/**
 * The local stack's deletion sweeper and schedule targets (infra/local): the sweeper passes periodically
 * against the ports' clock until stopped, and the registry binds the two deletion targets to their handler
 * modules as the Lambdas run them.
 */
import { deletionSchedule } from '../../../functions/deletion/deletion-policy';
import { DEADLINE_TARGET, ENFORCEMENT_TARGET } from '../../../functions/deletion/hard-delete-definition';
import { LocalScheduler } from '../../../functions/scheduler/local-scheduler';
import { config } from '../../../functions/shared/config';
import { setWorkflowRunner } from '../../../functions/workflows/workflow-runner';
import { startLocalDeletionSweeper } from '../../../infra/local/local-deletion-sweeper';
import { scheduleTargetHandlers } from '../../../infra/local/local-stack';
import { ApiHarness } from '../../support/api-harness';
import { RecordingRunner } from '../../support/recording-runner';

const api = new ApiHarness();
const runner = new RecordingRunner();
const REQUESTED_AT = new Date('2026-10-01T09:00:00.000Z');
const deletion = deletionSchedule({ tenantId: 'local-late', requestedAt: REQUESTED_AT, requestedBy: 'operator@test', retentionDays: 30 });

beforeAll(async () => {
  await api.start();
  setWorkflowRunner(runner);
  await api.createTenant('local-late');
  await api.store.applyTransition(await api.store.get('local-late'), 'initiate_deletion', { actor: 'operator@test' }, { changes: { deletion } });
});
afterAll(() => api.stop());

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('the local sweeper passes at once and then periodically, each at the ports clock, and stops', async () => {
  runner.reset();
  let clock = new Date(Date.parse(deletion.window.closesAt) + 10 * 60_000);
  const scheduler = new LocalScheduler({ client: api.documentClient, tableName: config.tableName });
  const passes: number[] = [];
  const sweeper = startLocalDeletionSweeper(() => ({ tenants: api.store, scheduler, runner, now: () => clock }), {
    intervalMs: 50,
    onPass: (result) => passes.push(result.started.length),
    onError: (error) => {
      throw error;
    },
  });
  await until(() => runner.executions.length >= 1);
  clock = new Date(clock.getTime() + 3_600_000); // the operator moves the clock an hour on
  await until(() => runner.executions.length >= 2);
  await sweeper.stop();
  const after = passes.length;
  await new Promise((resolve) => setTimeout(resolve, 200));
  expect(passes.length).toBe(after);
  const operations = runner.operations('hard-delete', 'local-late');
  expect(operations.map((operation) => operation.trigger)).toEqual(['sweeper', 'sweeper']);
  expect(operations[1]?.scheduledAt).toBe(new Date(Math.floor(clock.getTime() / 1000) * 1000).toISOString());
});

test('the local stack binds both deletion targets to their handler modules', async () => {
  runner.reset();
  const handlers = await scheduleTargetHandlers();
  expect(Object.keys(handlers)).toEqual(expect.arrayContaining([DEADLINE_TARGET, ENFORCEMENT_TARGET]));
  await handlers[DEADLINE_TARGET]?.({ schedule: deletion.schedules.hardDelete, target: DEADLINE_TARGET, scheduledAt: deletion.deadline, payload: { tenantId: 'local-late', deletionRequestedAt: deletion.requestedAt } });
  expect(runner.operations('hard-delete', 'local-late').map((operation) => operation.trigger)).toEqual(['deadline']);
});
