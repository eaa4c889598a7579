/**
 * The deletion sweeper over 10,000 `deleting` tenants (an in-memory store and scheduler, to count the calls a
 * pass makes; the same code runs on DynamoDB Local in test/integration/deletion): how many schedule lookups a
 * pass makes, that every tenant's schedules are looked at within a day, and that only the late are started.
 * No timing here: bench/ measures the pass.
 */
import { deletionSchedule, type DeletionSchedule } from '../../../functions/deletion/deletion-policy';
import { SCHEDULE_CHECK_SLICES, sweepDeletions } from '../../../functions/deletion/sweep-deletions';
import type { OneShotSchedule, SchedulerPort } from '../../../functions/scheduler/scheduler-port';
import type { Page, PageRequest, Tenant, TenantStore } from '../../../functions/tenants/tenant-store';
import { RecordingRunner } from '../../support/recording-runner';

const NOW = new Date('2027-03-01T10:00:00.000Z');
const DAY = 86_400_000;
const COUNT = 10_000;

/** 10,000 tenants soft-deleted over the last 60 days with 30–90 days' retention (none late, a few due soon). */
function tenants(): Tenant[] {
  return Array.from({ length: COUNT }, (_, i) => {
    const tenantId = `tenant-${String(i).padStart(5, '0')}`;
    const retentionDays = 30 + (i % 61);
    // Deadlines spread from 1 hour to 89 days ahead: requested (retention − offset) days ago.
    const aheadMs = DAY / 24 + ((i * 7919) % COUNT) * ((88 * DAY) / COUNT);
    const requestedAt = new Date(NOW.getTime() + aheadMs - retentionDays * DAY);
    const deletion: DeletionSchedule = deletionSchedule({ tenantId, requestedAt, requestedBy: 'op', retentionDays });
    return { tenantId, state: 'deleting', deletion, version: 2 } as unknown as Tenant;
  });
}

function fakeStore(all: Tenant[]): TenantStore {
  return {
    async listByState(_state: string, request: PageRequest = {}): Promise<Page<Tenant>> {
      const start = request.cursor ? Number(request.cursor) : 0;
      const end = start + (request.limit ?? 25);
      return { items: all.slice(start, end), ...(end < all.length ? { nextCursor: String(end) } : {}) };
    },
  } as unknown as TenantStore;
}

/** A scheduler holding every schedule of `all`, counting lookups. */
function fakeScheduler(all: Tenant[]): SchedulerPort & { lookedUp: string[]; made: string[] } {
  const names = new Set(all.flatMap((tenant) => [tenant.deletion!.schedules.hardDelete, tenant.deletion!.schedules.enforcement]));
  const lookedUp: string[] = [];
  const made: string[] = [];
  return {
    name: 'local',
    lookedUp,
    made,
    async find(name: string) {
      lookedUp.push(name);
      return names.has(name) ? ({ name } as OneShotSchedule) : undefined;
    },
    async scheduleOnce(schedule: OneShotSchedule) {
      made.push(schedule.name);
      names.add(schedule.name);
    },
    async cancel(name: string) {
      names.delete(name);
    },
  };
}

test('a pass over 10,000 deleting tenants looks up the schedules of about 1/24 of them plus those due soon, and starts nobody not late', async () => {
  const all = tenants();
  const runner = new RecordingRunner();
  const scheduler = fakeScheduler(all);
  const dueSoon = all.filter((tenant) => Date.parse(tenant.deletion!.window.opensAt) - NOW.getTime() <= 2 * 3_600_000).length;
  expect(dueSoon).toBeGreaterThan(0);
  const result = await sweepDeletions({ tenants: fakeStore(all), scheduler, runner }, { now: NOW });
  expect(result.examined).toBe(COUNT);
  expect(result.failed).toEqual([]);
  // Two lookups per checked tenant; a slice is ~417 tenants (hash-spread), plus the ones due within two hours.
  expect(scheduler.lookedUp.length).toBe(2 * result.schedulesChecked);
  expect(result.schedulesChecked).toBeGreaterThanOrEqual(dueSoon);
  expect(result.schedulesChecked).toBeLessThan((COUNT / SCHEDULE_CHECK_SLICES) * 1.25 + dueSoon);
  expect(scheduler.made).toEqual([]); // nothing was missing
  expect(runner.executions).toEqual([]); // nobody was late
});

test('every tenant not yet late has its schedules looked at within 24 hourly passes; the late ones are started', async () => {
  const all = tenants().slice(0, 2_000);
  const runner = new RecordingRunner();
  const scheduler = fakeScheduler(all);
  const checked = new Set<string>();
  for (let hour = 0; hour < SCHEDULE_CHECK_SLICES; hour += 1) {
    scheduler.lookedUp.length = 0;
    runner.reset();
    const now = new Date(NOW.getTime() + hour * 3_600_000);
    const result = await sweepDeletions({ tenants: fakeStore(all), scheduler, runner }, { now });
    for (const name of scheduler.lookedUp) checked.add(name);
    const late = all.filter((tenant) => Date.parse(tenant.deletion!.window.closesAt) < now.getTime()).map((tenant) => tenant.tenantId);
    expect(result.started.map((started) => started.tenantId).sort()).toEqual(late.sort());
  }
  const notLate = all.filter((tenant) => Date.parse(tenant.deletion!.window.closesAt) > NOW.getTime() + 24 * 3_600_000);
  expect(notLate.length).toBeGreaterThan(1_900);
  for (const tenant of notLate) expect(checked.has(tenant.deletion!.schedules.hardDelete)).toBe(true);
});

test('with checkAllSchedules a pass looks at every tenant, and recreates exactly the missing schedules', async () => {
  const all = tenants().slice(0, 500);
  const scheduler = fakeScheduler(all);
  const lost = all.slice(0, 3).map((tenant) => tenant.deletion!.schedules.hardDelete);
  for (const name of lost) await scheduler.cancel(name);
  const result = await sweepDeletions({ tenants: fakeStore(all), scheduler, runner: new RecordingRunner() }, { now: NOW, checkAllSchedules: true });
  expect(result.schedulesChecked).toBe(500);
  expect(scheduler.made.sort()).toEqual([...lost].sort());
  expect(result.rearmed.map((r) => r.schedules)).toEqual([['hardDelete'], ['hardDelete'], ['hardDelete']]);
});
