/**
 * The local scheduler against DynamoDB Local (this file's own table): due schedules fire once, on an injected
 * clock; concurrent runs deliver each schedule once; replaced and cancelled schedules behave; failing handlers
 * back off and end in the dead letters; and the timer of the local stack fires on its own and stops cleanly.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { LocalScheduler, schedulePk, SCHEDULE_SK, type LocalSchedulerOptions } from '../../../functions/scheduler/local-scheduler';
import type { OneShotSchedule, ScheduledEvent } from '../../../functions/scheduler/scheduler-port';
import { config } from '../../../functions/shared/config';
import { createTableInput } from '../../../functions/tenants/tenant-table';

const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: config.dynamoDbEndpoint, region: config.region }), {
  marshallOptions: { removeUndefinedValues: true },
});

const T = new Date('2026-03-31T23:59:00.000Z');
const seconds = (n: number) => new Date(T.getTime() + n * 1000);

function schedule(name: string, at: Date = seconds(60), payload: OneShotSchedule['payload'] = { operationId: name, tenantId: 'acme' }): OneShotSchedule {
  return { name, at, target: 'plan-change.period-end', payload };
}

/** A scheduler on this file's table whose handler records what it is given (and may fail). */
function newScheduler(options: Partial<LocalSchedulerOptions> & { fail?: (event: ScheduledEvent) => boolean } = {}) {
  const delivered: ScheduledEvent[] = [];
  const errors: Array<{ error: unknown; event: ScheduledEvent }> = [];
  const { fail, ...rest } = options;
  const scheduler = new LocalScheduler({
    client,
    tableName: config.tableName,
    now: () => T,
    handlers: {
      'plan-change.period-end': async (event) => {
        if (fail?.(event)) throw new Error(`handler failed for ${event.schedule}`);
        delivered.push(event);
      },
    },
    onError: (error, event) => errors.push({ error, event }),
    ...rest,
  });
  return { scheduler, delivered, errors };
}

async function item(name: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await client.send(new GetCommand({ TableName: config.tableName, Key: { pk: schedulePk(name), sk: SCHEDULE_SK }, ConsistentRead: true }));
  return Item;
}

beforeAll(async () => {
  await client.send(new CreateTableCommand(createTableInput(config.tableName)));
});

afterAll(async () => {
  await client.send(new DeleteTableCommand({ TableName: config.tableName }));
  client.destroy();
});

// fireDue fires whatever is due in the table: every test starts from an empty one.
afterEach(async () => {
  const { Items } = await client.send(new ScanCommand({ TableName: config.tableName, ConsistentRead: true }));
  for (const { pk, sk } of Items ?? []) await client.send(new DeleteCommand({ TableName: config.tableName, Key: { pk, sk } }));
});

describe('Class: LocalScheduler', () => {
  it('should not fire a schedule before its time, and keep it findable', async () => {
    const { scheduler, delivered } = newScheduler();
    await scheduler.scheduleOnce(schedule('not-due'));

    await expect(scheduler.fireDue(seconds(59))).resolves.toEqual({ fired: [], failed: [] });

    expect(delivered).toEqual([]);
    await expect(scheduler.find('not-due')).resolves.toEqual(schedule('not-due'));
  });

  it('should fire a due schedule once, with its event, and then forget it', async () => {
    const { scheduler, delivered } = newScheduler();
    await scheduler.scheduleOnce(schedule('due', new Date('2026-04-01T00:00:00.750Z')));

    await expect(scheduler.fireDue(seconds(75))).resolves.toEqual({ fired: ['due'], failed: [] });
    await expect(scheduler.fireDue(seconds(3600))).resolves.toEqual({ fired: [], failed: [] });

    expect(delivered).toEqual([{ schedule: 'due', target: 'plan-change.period-end', scheduledAt: '2026-04-01T00:00:00.000Z', payload: { operationId: 'due', tenantId: 'acme' } }]);
    await expect(scheduler.find('due')).resolves.toBeUndefined();
    await expect(item('due')).resolves.toBeUndefined();
  });

  it('should fire on its own clock when fireDue is given no time', async () => {
    let now = seconds(0);
    const { scheduler, delivered } = newScheduler({ now: () => now });
    await scheduler.scheduleOnce(schedule('clocked'));

    await scheduler.fireDue();
    now = seconds(60);
    await scheduler.fireDue();

    expect(delivered.map((event) => event.schedule)).toEqual(['clocked']);
  });

  it('should deliver each schedule once when two runs fire at the same time', async () => {
    const names = Array.from({ length: 8 }, (_, i) => `concurrent-${i}`);
    const slow = async () => sleep(10);
    const a = newScheduler();
    const b = newScheduler();
    a.scheduler.setHandler('plan-change.period-end', async (event) => void (await slow(), a.delivered.push(event)));
    b.scheduler.setHandler('plan-change.period-end', async (event) => void (await slow(), b.delivered.push(event)));
    for (const name of names) await a.scheduler.scheduleOnce(schedule(name));

    const [ra, rb] = await Promise.all([a.scheduler.fireDue(seconds(60)), b.scheduler.fireDue(seconds(60))]);

    const delivered = [...a.delivered, ...b.delivered].map((event) => event.schedule).sort();
    expect(delivered).toEqual([...names].sort());
    expect([...ra.fired, ...rb.fired].sort()).toEqual([...names].sort());
    expect([...ra.failed, ...rb.failed]).toEqual([]);
  });

  it('should move a schedule replaced before its time to the new time and payload', async () => {
    const { scheduler, delivered } = newScheduler();
    await scheduler.scheduleOnce(schedule('moved', seconds(60)));
    await scheduler.scheduleOnce(schedule('moved', seconds(120), { operationId: 'op-2', tenantId: 'acme' }));

    await expect(scheduler.fireDue(seconds(90))).resolves.toEqual({ fired: [], failed: [] });
    await expect(scheduler.fireDue(seconds(120))).resolves.toEqual({ fired: ['moved'], failed: [] });

    expect(delivered).toEqual([{ schedule: 'moved', target: 'plan-change.period-end', scheduledAt: seconds(120).toISOString(), payload: { operationId: 'op-2', tenantId: 'acme' } }]);
  });

  it('should keep a schedule replaced while its previous version was being delivered', async () => {
    const { scheduler, delivered } = newScheduler();
    scheduler.setHandler('plan-change.period-end', async (event) => {
      delivered.push(event);
      if (delivered.length === 1) await scheduler.scheduleOnce(schedule('replaced-in-flight', seconds(600)));
    });
    await scheduler.scheduleOnce(schedule('replaced-in-flight', seconds(60)));

    await expect(scheduler.fireDue(seconds(60))).resolves.toEqual({ fired: ['replaced-in-flight'], failed: [] });

    await expect(scheduler.find('replaced-in-flight')).resolves.toEqual(schedule('replaced-in-flight', seconds(600)));
    await scheduler.fireDue(seconds(600));
    expect(delivered.map((event) => event.scheduledAt)).toEqual([seconds(60).toISOString(), seconds(600).toISOString()]);
  });

  it('should keep a schedule replaced while its previous version was failing, without counting that failure against it', async () => {
    const { scheduler, errors } = newScheduler();
    scheduler.setHandler('plan-change.period-end', async (event) => {
      if (event.scheduledAt === seconds(60).toISOString()) {
        await scheduler.scheduleOnce(schedule('replaced-while-failing', seconds(600)));
        throw new Error('the old version failed');
      }
    });
    await scheduler.scheduleOnce(schedule('replaced-while-failing', seconds(60)));

    await expect(scheduler.fireDue(seconds(60))).resolves.toEqual({ fired: [], failed: ['replaced-while-failing'] });

    expect(errors).toHaveLength(1);
    await expect(scheduler.find('replaced-while-failing')).resolves.toEqual(schedule('replaced-while-failing', seconds(600)));
    await expect(item('replaced-while-failing')).resolves.not.toHaveProperty('lastError');
    await expect(scheduler.fireDue(seconds(600))).resolves.toEqual({ fired: ['replaced-while-failing'], failed: [] });
  });

  it('should never fire a cancelled schedule, and take cancelling a missing one as done', async () => {
    const { scheduler, delivered } = newScheduler();
    await scheduler.scheduleOnce(schedule('cancelled'));

    await scheduler.cancel('cancelled');
    await scheduler.cancel('cancelled');
    await scheduler.cancel('never-made');

    await expect(scheduler.fireDue(seconds(3600))).resolves.toEqual({ fired: [], failed: [] });
    expect(delivered).toEqual([]);
    await expect(scheduler.find('cancelled')).resolves.toBeUndefined();
  });

  it('should retry a failing handler with exponential backoff and dead-letter the schedule after maxAttempts', async () => {
    const { scheduler, delivered, errors } = newScheduler({ maxAttempts: 3, fail: () => true });
    await scheduler.scheduleOnce(schedule('failing', seconds(0)));

    await expect(scheduler.fireDue(seconds(0))).resolves.toEqual({ fired: [], failed: ['failing'] });
    await expect(item('failing')).resolves.toMatchObject({ attempts: 1, state: 'schedule:pending', stateChangedAt: seconds(2).toISOString() });
    await expect(scheduler.fireDue(seconds(1))).resolves.toEqual({ fired: [], failed: [] }); // backing off: 2 s

    await expect(scheduler.fireDue(seconds(2))).resolves.toEqual({ fired: [], failed: ['failing'] });
    await expect(item('failing')).resolves.toMatchObject({ attempts: 2, stateChangedAt: seconds(6).toISOString() }); // then 4 s
    await expect(scheduler.fireDue(seconds(5))).resolves.toEqual({ fired: [], failed: [] });

    await expect(scheduler.fireDue(seconds(6))).resolves.toEqual({ fired: [], failed: ['failing'] });
    await expect(item('failing')).resolves.toMatchObject({ attempts: 3, state: 'schedule:dead-letter', lastError: 'Error: handler failed for failing' });

    // Dead-lettered: kept for operators, never fired again, no longer pending.
    await expect(scheduler.fireDue(seconds(86_400))).resolves.toEqual({ fired: [], failed: [] });
    await expect(scheduler.find('failing')).resolves.toBeUndefined();
    await expect(scheduler.deadLetters()).resolves.toEqual([{ schedule: 'failing', target: 'plan-change.period-end', scheduledAt: seconds(0).toISOString(), payload: { operationId: 'failing', tenantId: 'acme' } }]);
    expect(delivered).toEqual([]);
    expect(errors).toHaveLength(3);
    expect(errors.every(({ event }) => event.schedule === 'failing' && event.scheduledAt === seconds(0).toISOString())).toBe(true);
  });

  it('should deliver on a later attempt once the handler recovers', async () => {
    let failures = 1;
    const { scheduler, delivered } = newScheduler({ fail: () => failures-- > 0 });
    await scheduler.scheduleOnce(schedule('recovers', seconds(0)));

    await expect(scheduler.fireDue(seconds(0))).resolves.toEqual({ fired: [], failed: ['recovers'] });
    await expect(scheduler.fireDue(seconds(2))).resolves.toEqual({ fired: ['recovers'], failed: [] });

    expect(delivered.map((event) => event.schedule)).toEqual(['recovers']);
    await expect(item('recovers')).resolves.toBeUndefined();
    await expect(scheduler.deadLetters()).resolves.toEqual([]);
  });

  it('should leave a schedule whose target has no handler pending, report it failed, and fire it once a handler is set', async () => {
    const errors: Array<{ error: unknown; event: ScheduledEvent }> = [];
    const scheduler = new LocalScheduler({ client, tableName: config.tableName, onError: (error, event) => errors.push({ error, event }) });
    await scheduler.scheduleOnce(schedule('no-handler', seconds(0)));

    await expect(scheduler.fireDue(seconds(10))).resolves.toEqual({ fired: [], failed: ['no-handler'] });

    expect(errors).toHaveLength(1);
    expect(errors[0]?.event.schedule).toBe('no-handler');
    expect(String(errors[0]?.error)).toContain("No handler registered for schedule target 'plan-change.period-end'");
    await expect(item('no-handler')).resolves.toMatchObject({ attempts: 0, state: 'schedule:pending', stateChangedAt: seconds(0).toISOString() });
    await expect(scheduler.find('no-handler')).resolves.toEqual(schedule('no-handler', seconds(0)));

    const delivered: ScheduledEvent[] = [];
    scheduler.setHandler('plan-change.period-end', async (event) => void delivered.push(event));
    await expect(scheduler.fireDue(seconds(10))).resolves.toEqual({ fired: ['no-handler'], failed: [] });
    expect(delivered).toHaveLength(1);
  });

  it('should fire a schedule again after its claim expires when the run that claimed it never finished (at least once)', async () => {
    let finishFirst: () => void = () => undefined;
    const stuck = newScheduler({ claimSeconds: 60 });
    stuck.scheduler.setHandler('plan-change.period-end', (event) => {
      stuck.delivered.push(event);
      return new Promise<void>((resolve) => (finishFirst = resolve));
    });
    const other = newScheduler();
    await stuck.scheduler.scheduleOnce(schedule('redelivered', seconds(0)));

    const firstRun = stuck.scheduler.fireDue(seconds(0));
    while (stuck.delivered.length === 0) await sleep(5);

    await expect(other.scheduler.fireDue(seconds(59))).resolves.toEqual({ fired: [], failed: [] }); // still claimed
    await expect(other.scheduler.fireDue(seconds(60))).resolves.toEqual({ fired: ['redelivered'], failed: [] }); // claim expired
    finishFirst();
    await expect(firstRun).resolves.toEqual({ fired: ['redelivered'], failed: [] });

    expect([...stuck.delivered, ...other.delivered].map((event) => event.schedule)).toEqual(['redelivered', 'redelivered']);
    await expect(item('redelivered')).resolves.toBeUndefined();
  });

  it('should record what a handler threw as it is when it is not an Error', async () => {
    const { scheduler } = newScheduler({ maxAttempts: 1 });
    scheduler.setHandler('plan-change.period-end', () => Promise.reject('quota exhausted'));
    await scheduler.scheduleOnce(schedule('throws-string', seconds(0)));

    await expect(scheduler.fireDue(seconds(0))).resolves.toEqual({ fired: [], failed: ['throws-string'] });
    await expect(item('throws-string')).resolves.toMatchObject({ attempts: 1, state: 'schedule:dead-letter', lastError: 'quota exhausted' });
  });

  it.each([
    ['claiming it', 'UpdateCommand', { fired: [], delivered: 0 }],
    ['deleting it once delivered', 'DeleteCommand', { fired: [], delivered: 1 }],
  ])('should report a schedule failed, and deliver it again later, when the table fails while %s', async (_, failing, expected) => {
    const outage = Object.assign(new Error('Throughput exceeds the current capacity of your table'), { name: 'ProvisionedThroughputExceededException' });
    let failOnce = true;
    const flaky = {
      send: (command: { constructor: { name: string } }) => {
        if (failOnce && command.constructor.name === failing) {
          failOnce = false;
          return Promise.reject(outage);
        }
        return client.send(command as never);
      },
    } as unknown as typeof client;
    const { scheduler, delivered, errors } = newScheduler({ client: flaky, claimSeconds: 60 });
    await scheduler.scheduleOnce(schedule('table-outage', seconds(0)));

    await expect(scheduler.fireDue(seconds(0))).resolves.toEqual({ fired: expected.fired, failed: ['table-outage'] });
    expect(delivered).toHaveLength(expected.delivered);
    expect(errors).toEqual([{ error: outage, event: expect.objectContaining({ schedule: 'table-outage' }) }]);

    // Still there: fired again once any claim taken has expired (at least once).
    await expect(scheduler.fireDue(seconds(60))).resolves.toEqual({ fired: ['table-outage'], failed: [] });
    expect(delivered).toHaveLength(expected.delivered + 1);
    await expect(item('table-outage')).resolves.toBeUndefined();
  });

  it('should refuse an invalid schedule name before writing anything', async () => {
    const { scheduler } = newScheduler();

    await expect(scheduler.scheduleOnce(schedule('not a valid name'))).rejects.toThrow(RangeError);
    await expect(scheduler.cancel('x'.repeat(65))).rejects.toThrow(RangeError);
  });

  describe('Method: start / stop', () => {
    it('should fire due schedules on its own within a couple of seconds, and run nothing after stop', async () => {
      const delivered: ScheduledEvent[] = [];
      const scheduler = new LocalScheduler({ client, tableName: config.tableName, handlers: { 'plan-change.period-end': async (event) => void delivered.push(event) } });
      await scheduler.scheduleOnce(schedule('timer', new Date()));

      scheduler.start(25);
      scheduler.start(25); // a second start does nothing
      const deadline = Date.now() + 2000;
      while (delivered.length === 0 && Date.now() < deadline) await sleep(10);
      await scheduler.stop();

      expect(delivered.map((event) => event.schedule)).toEqual(['timer']);
      await scheduler.scheduleOnce(schedule('after-stop', new Date(Date.now() - 1000)));
      await sleep(200);
      expect(delivered).toHaveLength(1);
      await expect(scheduler.find('after-stop')).resolves.toBeDefined();
    });

    it('should fire every second unless given another interval', async () => {
      const delivered: ScheduledEvent[] = [];
      const scheduler = new LocalScheduler({ client, tableName: config.tableName, handlers: { 'plan-change.period-end': async (event) => void delivered.push(event) } });
      await scheduler.scheduleOnce(schedule('default-interval', new Date()));

      const started = Date.now();
      scheduler.start();
      while (delivered.length === 0 && Date.now() < started + 5000) await sleep(10);
      const firedAfter = Date.now() - started;
      await scheduler.stop();

      expect(delivered.map((event) => event.schedule)).toEqual(['default-interval']);
      expect(firedAfter).toBeGreaterThanOrEqual(990); // the first run waits one interval
    });

    /** A started scheduler whose timer's run is in progress, its handler waiting for `run.finish()`. */
    async function runInProgress(name: string, onDelivered: () => void = () => undefined) {
      const run = { entered: false, finish: (): void => undefined };
      const scheduler = new LocalScheduler({
        client,
        tableName: config.tableName,
        handlers: {
          'plan-change.period-end': () => {
            run.entered = true;
            return new Promise<void>((resolve) => (run.finish = () => resolve(onDelivered())));
          },
        },
      });
      await scheduler.scheduleOnce(schedule(name, new Date(Date.now() - 1000)));
      scheduler.start(10);
      while (!run.entered) await sleep(5);
      return { scheduler, finish: () => run.finish() };
    }

    it('should wait for a run in progress when stopped', async () => {
      const { scheduler, finish } = await runInProgress('in-flight');

      let stopped = false;
      const stopping = scheduler.stop().then(() => (stopped = true));
      await sleep(50);
      expect(stopped).toBe(false);
      finish();
      await stopping;

      await expect(item('in-flight')).resolves.toBeUndefined(); // the run finished its delivery before stop returned
    });

    it("should leave what a move of the clock made due to the mover while the timer is held: no tick delivers it, and the timer runs again after", async () => {
      // The simulated clock's advance: the clock moved and the due schedules fired inside withTimerHeld, so the
      // advance's answer lists what it made due instead of a tick that raced it claiming it first.
      let current = T;
      const { scheduler, delivered } = newScheduler({ now: () => current });
      await scheduler.scheduleOnce(schedule('held', seconds(60)));
      scheduler.start(5);

      const fired = await scheduler.withTimerHeld(async () => {
        current = seconds(60);
        await sleep(100); // twenty intervals of the timer, in which an unheld tick would deliver it
        const during = delivered.length;
        return { during, result: await scheduler.fireDue() };
      });

      expect(fired).toEqual({ during: 0, result: { fired: ['held'], failed: [] } });
      await scheduler.scheduleOnce(schedule('after-hold', seconds(60)));
      const deadline = Date.now() + 2000;
      while (delivered.length < 2 && Date.now() < deadline) await sleep(5);
      await scheduler.stop();
      expect(delivered.map((event) => event.schedule)).toEqual(['held', 'after-hold']);
    });

    it('should wait for a run of the timer in progress before the held work starts', async () => {
      const order: string[] = [];
      const { scheduler, finish } = await runInProgress('in-flight-held', () => void order.push('tick delivered'));

      const held = scheduler.withTimerHeld(async () => void order.push('held work'));
      await sleep(50);
      expect(order).toEqual([]);
      finish();
      await held;
      await scheduler.stop();

      expect(order).toEqual(['tick delivered', 'held work']);
    });

    it("should run `first` at once, before waiting for a run in progress (the advance's move is not left to happen after a timed-out answer)", async () => {
      const order: string[] = [];
      const { scheduler, finish } = await runInProgress('in-flight-first', () => void order.push('tick delivered'));

      const held = scheduler.withTimerHeld(async () => void order.push('held work'), () => void order.push('clock moved'));
      await sleep(50);
      expect(order).toEqual(['clock moved']);
      finish();
      await held;
      await scheduler.stop();

      expect(order).toEqual(['clock moved', 'tick delivered', 'held work']);
    });

    it('should report a failing run of the timer and keep going, never crashing the process', async () => {
      const timerErrors: unknown[] = [];
      const scheduler = new LocalScheduler({ client, tableName: `${config.tableName}-missing`, onTimerError: (error) => timerErrors.push(error) });

      scheduler.start(10);
      const deadline = Date.now() + 2000;
      while (timerErrors.length < 2 && Date.now() < deadline) await sleep(10);
      await scheduler.stop();

      expect(timerErrors.length).toBeGreaterThanOrEqual(2);
      expect((timerErrors[0] as Error).name).toBe('ResourceNotFoundException');
    });
  });
});
