/** DeferredScheduler: the scheduler (and its SDK) is built by the first call that needs one, and every call reaches it. */
import { onFirstUse } from '../../../functions/shared/on-first-use';
import { DeferredScheduler, type OneShotSchedule, type SchedulerPort } from '../../../functions/scheduler/scheduler-port';

describe('Class: DeferredScheduler', () => {
  it('should build the scheduler on the first call, once, and pass every call and answer through', async () => {
    // Prepare
    const pending = new Map<string, OneShotSchedule>();
    const inner: SchedulerPort = {
      name: 'eventbridge-scheduler',
      scheduleOnce: async (schedule) => void pending.set(schedule.name, schedule),
      cancel: async (name) => void pending.delete(name),
      find: async (name) => pending.get(name),
    };
    const build = jest.fn(async () => inner);
    const scheduler = new DeferredScheduler('eventbridge-scheduler', onFirstUse(build));
    const schedule = { name: 'period-end-acme', at: new Date('2030-01-01T00:00:00Z'), target: 'period-end', payload: { tenantId: 'acme' } } as unknown as OneShotSchedule;

    // Act and assess
    expect([scheduler.name, build.mock.calls.length]).toEqual(['eventbridge-scheduler', 0]);
    await scheduler.scheduleOnce(schedule);
    await expect(scheduler.find('period-end-acme')).resolves.toBe(schedule);
    await scheduler.cancel('period-end-acme');
    await expect(scheduler.find('period-end-acme')).resolves.toBeUndefined();
    expect(build).toHaveBeenCalledTimes(1);
  });

  it("should fail a call with the build's error, and build again on the next call", async () => {
    const build = jest.fn<Promise<SchedulerPort>, []>().mockRejectedValueOnce(new Error('no SDK')).mockResolvedValue({ name: 'local', scheduleOnce: async () => undefined, cancel: async () => undefined, find: async () => undefined });
    const scheduler = new DeferredScheduler('eventbridge-scheduler', onFirstUse(build));

    await expect(scheduler.cancel('x')).rejects.toThrow('no SDK');
    await expect(scheduler.cancel('x')).resolves.toBeUndefined();
    expect(build).toHaveBeenCalledTimes(2);
  });
});
