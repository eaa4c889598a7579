/** The EventBridge Scheduler adapter against a mocked Scheduler client: the requests it makes and how it reads answers and errors. */
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  GetScheduleCommand,
  InternalServerException,
  ResourceNotFoundException,
  SchedulerClient,
  ThrottlingException,
  UpdateScheduleCommand,
  ValidationException,
  type GetScheduleCommandOutput,
} from '@aws-sdk/client-scheduler';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { atExpression, EventBridgeScheduler, parseAtExpression } from '../../../functions/scheduler/eventbridge-scheduler';
import { SchedulerTransientError, type OneShotSchedule } from '../../../functions/scheduler/scheduler-port';
import { ConfigurationError } from '../../../functions/shared/config';

const scheduler = mockClient(SchedulerClient);
const NOW = new Date('2026-03-01T12:00:00.250Z');
const TARGET_ARN = 'arn:aws:lambda:us-east-1:123456789012:function:period-end';
const ROLE_ARN = 'arn:aws:iam::123456789012:role/scheduler';
const DLQ_ARN = 'arn:aws:sqs:us-east-1:123456789012:scheduler-dlq';
const SCHEDULE: OneShotSchedule = {
  name: 'plan-change-op-1',
  at: new Date('2026-04-01T00:00:00.900Z'),
  target: 'plan-change.period-end',
  payload: { operationId: 'op-1', tenantId: 'acme' },
};
const INPUT = JSON.stringify({ schedule: 'plan-change-op-1', target: 'plan-change.period-end', scheduledAt: '2026-04-01T00:00:00.000Z', payload: { operationId: 'op-1', tenantId: 'acme' } });

function newScheduler(options: { targetArns?: Record<string, string>; retry?: { maximumEventAgeSeconds: number; maximumRetryAttempts: number } } = {}): EventBridgeScheduler {
  return new EventBridgeScheduler({
    client: new SchedulerClient({ region: 'us-east-1' }),
    groupName: 'tenant-lifecycle',
    roleArn: ROLE_ARN,
    deadLetterArn: DLQ_ARN,
    targetArns: options.targetArns ?? { 'plan-change.period-end': TARGET_ARN },
    ...(options.retry ? { retry: options.retry } : {}),
    now: () => NOW,
  });
}

/** What GetSchedule answers for a schedule this adapter made with `expression` and `input`. */
function existing(expression: string, input: string = INPUT, overrides: Partial<GetScheduleCommandOutput> = {}): GetScheduleCommandOutput {
  return {
    $metadata: {},
    Name: SCHEDULE.name,
    GroupName: 'tenant-lifecycle',
    ScheduleExpression: expression,
    ScheduleExpressionTimezone: 'UTC',
    FlexibleTimeWindow: { Mode: 'OFF' },
    ActionAfterCompletion: 'DELETE',
    State: 'ENABLED',
    Target: {
      Arn: TARGET_ARN,
      RoleArn: ROLE_ARN,
      Input: input,
      RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
      DeadLetterConfig: { Arn: DLQ_ARN },
    },
    ...overrides,
  };
}

/** The options every modelled Scheduler exception takes. */
const fault = (message: string) => ({ message, Message: message, $metadata: {} });
const conflict = () => new ConflictException(fault('Schedule plan-change-op-1 already exists.'));
const notFound = () => new ResourceNotFoundException(fault('Schedule plan-change-op-1 does not exist.'));

beforeEach(() => scheduler.reset());

describe('Class: EventBridgeScheduler', () => {
  describe('Method: scheduleOnce', () => {
    it('should create a one-shot at() schedule in UTC, window off, deleted after completion, with the retry policy, DLQ, role and the event as input', async () => {
      scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:schedule' });

      await newScheduler().scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 1);
      const input = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
      expect(input).toEqual({
        Name: 'plan-change-op-1',
        GroupName: 'tenant-lifecycle',
        ScheduleExpression: 'at(2026-04-01T00:00:00)',
        ScheduleExpressionTimezone: 'UTC',
        FlexibleTimeWindow: { Mode: 'OFF' },
        ActionAfterCompletion: 'DELETE',
        State: 'ENABLED',
        Target: {
          Arn: TARGET_ARN,
          RoleArn: ROLE_ARN,
          Input: INPUT,
          RetryPolicy: { MaximumEventAgeInSeconds: 86_400, MaximumRetryAttempts: 185 },
          DeadLetterConfig: { Arn: DLQ_ARN },
        },
        ClientToken: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
    });

    it('should derive the same client token for the same schedule and another one for another time or payload', async () => {
      scheduler.on(CreateScheduleCommand).resolves({});
      const adapter = newScheduler();

      await adapter.scheduleOnce(SCHEDULE);
      await adapter.scheduleOnce(SCHEDULE);
      await adapter.scheduleOnce({ ...SCHEDULE, at: new Date('2026-04-01T00:00:01Z') });
      await adapter.scheduleOnce({ ...SCHEDULE, payload: { operationId: 'op-2', tenantId: 'acme' } });

      const tokens = scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input.ClientToken);
      expect(tokens[0]).toBe(tokens[1]);
      expect(new Set(tokens).size).toBe(3);
    });

    it('should use a configured retry policy', async () => {
      scheduler.on(CreateScheduleCommand).resolves({});

      await newScheduler({ retry: { maximumEventAgeSeconds: 3600, maximumRetryAttempts: 10 } }).scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandWith(CreateScheduleCommand, { Target: expect.objectContaining({ RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 10 } }) });
    });

    it('should make a schedule asked for in the past for now + 60 s (a past at() would not fire), keeping the asked time as scheduledAt', async () => {
      scheduler.on(CreateScheduleCommand).resolves({});

      await newScheduler().scheduleOnce({ ...SCHEDULE, at: new Date('2026-02-28T00:00:00Z') });

      const input = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
      // 12:00:00.250 + 60 s, rounded up to the whole second
      expect(input?.ScheduleExpression).toBe('at(2026-03-01T12:01:01)');
      expect(JSON.parse(input?.Target?.Input ?? '{}')).toMatchObject({ scheduledAt: '2026-02-28T00:00:00.000Z' });
    });

    it('should also move a time within the next 60 s to now + 60 s, and leave one just beyond it as asked', async () => {
      scheduler.on(CreateScheduleCommand).resolves({});
      const adapter = newScheduler();

      await adapter.scheduleOnce({ ...SCHEDULE, at: new Date('2026-03-01T12:00:30Z') });
      await adapter.scheduleOnce({ ...SCHEDULE, at: new Date('2026-03-01T12:01:02Z') });

      const expressions = scheduler.commandCalls(CreateScheduleCommand).map((call) => call.args[0].input.ScheduleExpression);
      expect(expressions).toEqual(['at(2026-03-01T12:01:01)', 'at(2026-03-01T12:01:02)']);
    });

    it('should replace the whole definition of an existing schedule whose time differs (conflict → get → update)', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      scheduler.on(GetScheduleCommand).resolves(existing('at(2026-03-15T00:00:00)'));
      scheduler.on(UpdateScheduleCommand).resolves({});

      await newScheduler().scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandWith(GetScheduleCommand, { Name: 'plan-change-op-1', GroupName: 'tenant-lifecycle' });
      expect(scheduler).toHaveReceivedCommandTimes(UpdateScheduleCommand, 1);
      const create = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
      const update = scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input;
      const { ClientToken: _token, ...definition } = create ?? {};
      expect(update).toEqual(definition);
    });

    it('should update an existing schedule whose payload or target differs', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      scheduler.on(UpdateScheduleCommand).resolves({});
      scheduler.on(GetScheduleCommand).resolvesOnce(existing('at(2026-04-01T00:00:00)', INPUT.replace('op-1"', 'op-0"'))).resolvesOnce(existing('at(2026-04-01T00:00:00)', INPUT, { Target: { Arn: 'arn:other', RoleArn: ROLE_ARN, Input: INPUT } }));
      const adapter = newScheduler();

      await adapter.scheduleOnce(SCHEDULE);
      await adapter.scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandTimes(UpdateScheduleCommand, 2);
    });

    it('should leave an existing schedule that already says the same (payload keys in another order included) without an update', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      const reordered = JSON.stringify({ payload: { tenantId: 'acme', operationId: 'op-1' }, scheduledAt: '2026-04-01T00:00:00.000Z', target: 'plan-change.period-end', schedule: 'plan-change-op-1' });
      scheduler.on(GetScheduleCommand).resolvesOnce(existing('at(2026-04-01T00:00:00)')).resolvesOnce(existing('at(2026-04-01T00:00:00)', reordered));

      await newScheduler().scheduleOnce(SCHEDULE);
      await newScheduler().scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandTimes(GetScheduleCommand, 2);
      expect(scheduler).not.toHaveReceivedCommand(UpdateScheduleCommand);
    });

    it('should not push back a clamped schedule on a retry: an existing one still to fire before the clamped time is kept', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      const pastInput = INPUT.replace('2026-04-01T00:00:00.000Z', '2026-02-28T00:00:00.000Z');
      scheduler.on(GetScheduleCommand).resolvesOnce(existing('at(2026-03-01T12:00:50)', pastInput)).resolvesOnce(existing('at(2026-02-28T00:00:00)', pastInput));
      scheduler.on(UpdateScheduleCommand).resolves({});
      const adapter = newScheduler();
      const past = { ...SCHEDULE, at: new Date('2026-02-28T00:00:00Z') };

      await adapter.scheduleOnce(past); // existing fires at 12:00:50, still ahead: kept
      expect(scheduler).not.toHaveReceivedCommand(UpdateScheduleCommand);

      await adapter.scheduleOnce(past); // existing at() is in the past, it would never fire: moved to now + 60 s
      expect(scheduler).toHaveReceivedCommandWith(UpdateScheduleCommand, { ScheduleExpression: 'at(2026-03-01T12:01:01)' });
    });

    it('should replace an existing schedule that has no input or whose input holds other values (lists included)', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      scheduler.on(UpdateScheduleCommand).resolves({});
      const withList = JSON.stringify({ schedule: 'plan-change-op-1', target: 'plan-change.period-end', scheduledAt: '2026-04-01T00:00:00.000Z', payload: { operationIds: ['op-1'] } });
      scheduler
        .on(GetScheduleCommand)
        .resolvesOnce(existing('at(2026-04-01T00:00:00)', INPUT, { Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN } }))
        .resolvesOnce(existing('at(2026-04-01T00:00:00)', withList));

      await newScheduler().scheduleOnce(SCHEDULE);
      await newScheduler().scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandTimes(UpdateScheduleCommand, 2);
      for (const update of scheduler.commandCalls(UpdateScheduleCommand)) expect(update.args[0].input.Target?.Input).toBe(INPUT);
    });

    it('should use the wall clock unless told otherwise: a time in the past is made for a minute from now', async () => {
      scheduler.on(CreateScheduleCommand).resolves({});
      const adapter = new EventBridgeScheduler({
        client: new SchedulerClient({ region: 'us-east-1' }),
        groupName: 'tenant-lifecycle',
        roleArn: ROLE_ARN,
        deadLetterArn: DLQ_ARN,
        targetArns: { 'plan-change.period-end': TARGET_ARN },
      });
      const before = Date.now();

      await adapter.scheduleOnce({ ...SCHEDULE, at: new Date('2020-01-01T00:00:00Z') });

      const sent = parseAtExpression(scheduler.commandCalls(CreateScheduleCommand)[0]!.args[0].input.ScheduleExpression)!.getTime();
      expect(sent).toBeGreaterThanOrEqual(before + 60_000);
      expect(sent).toBeLessThanOrEqual(Date.now() + 61_000);
    });

    it('should create the schedule again when it disappeared between the conflict and the get (it fired meanwhile)', async () => {
      scheduler.on(CreateScheduleCommand).rejectsOnce(conflict()).resolves({});
      scheduler.on(GetScheduleCommand).rejects(notFound());

      await newScheduler().scheduleOnce(SCHEDULE);

      expect(scheduler).toHaveReceivedCommandTimes(CreateScheduleCommand, 2);
      expect(scheduler).not.toHaveReceivedCommand(UpdateScheduleCommand);
    });

    it('should refuse an invalid name before any request', async () => {
      await expect(newScheduler().scheduleOnce({ ...SCHEDULE, name: 'plan change/op 1' })).rejects.toThrow(RangeError);
      await expect(newScheduler().cancel('x'.repeat(65))).rejects.toThrow(RangeError);
      await expect(newScheduler().find('')).rejects.toThrow(RangeError);

      expect(scheduler.calls()).toHaveLength(0);
    });

    it('should refuse a target without a configured ARN as a configuration error naming the target, before any request', async () => {
      const attempt = newScheduler({ targetArns: {} }).scheduleOnce(SCHEDULE);

      await expect(attempt).rejects.toThrow(ConfigurationError);
      await expect(attempt).rejects.toThrow("'plan-change.period-end'");
      expect(scheduler.calls()).toHaveLength(0);
    });
  });

  describe('Method: cancel', () => {
    it('should delete the schedule in the group', async () => {
      scheduler.on(DeleteScheduleCommand).resolves({});

      await newScheduler().cancel('plan-change-op-1');

      expect(scheduler).toHaveReceivedCommandWith(DeleteScheduleCommand, { Name: 'plan-change-op-1', GroupName: 'tenant-lifecycle' });
    });

    it('should take a schedule that does not exist (fired and deleted, or never made) as cancelled', async () => {
      scheduler.on(DeleteScheduleCommand).rejects(notFound());

      await expect(newScheduler().cancel('plan-change-op-1')).resolves.toBeUndefined();
    });
  });

  describe('Method: find', () => {
    it('should read the schedule back: time from the at() expression, target and payload from the input', async () => {
      scheduler.on(GetScheduleCommand).resolves(existing('at(2026-04-01T00:00:00)'));

      await expect(newScheduler().find('plan-change-op-1')).resolves.toEqual({
        name: 'plan-change-op-1',
        at: new Date('2026-04-01T00:00:00Z'),
        target: 'plan-change.period-end',
        payload: { operationId: 'op-1', tenantId: 'acme' },
      });
    });

    it('should answer undefined for a schedule that does not exist', async () => {
      scheduler.on(GetScheduleCommand).rejects(notFound());

      await expect(newScheduler().find('plan-change-op-1')).resolves.toBeUndefined();
    });

    it('should say so when the schedule it refuses to read has no expression', async () => {
      scheduler.on(GetScheduleCommand).resolves(existing('at(2026-04-01T00:00:00)', INPUT, { ScheduleExpression: undefined }));

      await expect(newScheduler().find('plan-change-op-1')).rejects.toThrow('(no expression)');
    });

    it('should refuse to read a schedule this adapter did not make', async () => {
      scheduler.on(GetScheduleCommand).resolves(existing('rate(5 minutes)'));

      await expect(newScheduler().find('plan-change-op-1')).rejects.toThrow('not a one-shot schedule');
    });

    it.each([
      ['an at() in another time zone', existing('at(2026-04-01T00:00:00)', INPUT, { ScheduleExpressionTimezone: 'Europe/Paris' })],
      ['an input that is not JSON', existing('at(2026-04-01T00:00:00)', 'not json')],
      ['no input', existing('at(2026-04-01T00:00:00)', INPUT, { Target: { Arn: TARGET_ARN, RoleArn: ROLE_ARN } })],
      ['an unknown target', existing('at(2026-04-01T00:00:00)', JSON.stringify({ target: 'billing.reminder', payload: { operationId: 'op-1' } }))],
      ['a payload with nested values', existing('at(2026-04-01T00:00:00)', JSON.stringify({ target: 'plan-change.period-end', payload: { operation: { id: 'op-1' } } }))],
      ['a payload that is a list', existing('at(2026-04-01T00:00:00)', JSON.stringify({ target: 'plan-change.period-end', payload: ['op-1'] }))],
    ])('should refuse to read a schedule with %s, naming it and its group', async (_, output) => {
      scheduler.on(GetScheduleCommand).resolves(output);
      await expect(newScheduler().find('plan-change-op-1')).rejects.toThrow(/Schedule 'plan-change-op-1' in group '.+' is not a one-shot schedule made by this adapter/);
    });
  });

  describe('Errors', () => {
    it.each([
      ['throttling', () => new ThrottlingException(fault('Rate exceeded'))],
      ['an internal server error', () => new InternalServerException(fault('Internal'))],
      ['a 5xx without a modelled error', () => Object.assign(new Error('Service Unavailable'), { name: 'ServiceUnavailable', $fault: 'server' })],
      ['a retryable error', () => Object.assign(new Error('Slow down'), { name: 'SlowDown', $retryable: { throttling: true } })],
      ['a network failure', () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' })],
      ['a request timeout of the HTTP handler', () => Object.assign(new Error('Connection timed out after 3000 ms'), { name: 'TimeoutError' })],
    ])('should turn %s into a SchedulerTransientError keeping the cause', async (_, error) => {
      const cause = error();
      scheduler.on(CreateScheduleCommand).rejects(cause);
      scheduler.on(DeleteScheduleCommand).rejects(cause);
      scheduler.on(GetScheduleCommand).rejects(cause);

      for (const attempt of [newScheduler().scheduleOnce(SCHEDULE), newScheduler().cancel('plan-change-op-1'), newScheduler().find('plan-change-op-1')]) {
        const caught = await attempt.then(() => undefined, (e: unknown) => e);
        expect(caught).toBeInstanceOf(SchedulerTransientError);
        expect((caught as Error).cause).toBe(cause);
      }
    });

    it('should word a transient failure without a name or message as a plain Error', async () => {
      scheduler.on(DeleteScheduleCommand).callsFake(() => Promise.reject({ $fault: 'server' }));

      const caught = await newScheduler().cancel('plan-change-op-1').then(() => undefined, (e: unknown) => e);

      expect(caught).toBeInstanceOf(SchedulerTransientError);
      expect((caught as Error).message).toBe('EventBridge Scheduler is unavailable: Error: ');
    });

    it('should rethrow other errors as they are', async () => {
      const refused = new ValidationException(fault('Invalid Schedule Expression'));
      scheduler.on(CreateScheduleCommand).rejects(refused);

      await expect(newScheduler().scheduleOnce(SCHEDULE)).rejects.toBe(refused);
    });

    it('should give up with a SchedulerTransientError when the schedule keeps disappearing between conflict and update', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      scheduler.on(GetScheduleCommand).resolves(existing('at(2026-03-15T00:00:00)'));
      scheduler.on(UpdateScheduleCommand).rejects(notFound());

      await expect(newScheduler().scheduleOnce(SCHEDULE)).rejects.toThrow(/kept disappearing/);
      expect(scheduler).toHaveReceivedCommand(UpdateScheduleCommand);
    });

    it('should rethrow a thrown value that is not an error object as it is', async () => {
      scheduler.on(DeleteScheduleCommand).callsFake(() => Promise.reject('socket hang up'));
      await expect(newScheduler().cancel('plan-change-op-1')).rejects.toBe('socket hang up');
    });

    it('should map a transient failure of the update after a conflict too', async () => {
      scheduler.on(CreateScheduleCommand).rejects(conflict());
      scheduler.on(GetScheduleCommand).resolves(existing('at(2026-03-15T00:00:00)'));
      scheduler.on(UpdateScheduleCommand).rejects(new ThrottlingException(fault('Rate exceeded')));

      await expect(newScheduler().scheduleOnce(SCHEDULE)).rejects.toThrow(SchedulerTransientError);
    });
  });

  describe('Function: atExpression / parseAtExpression', () => {
    it('should write UTC whole seconds without a zone and read them back', () => {
      expect(atExpression(new Date('2026-12-31T23:59:59.999Z'))).toBe('at(2026-12-31T23:59:59)');
      expect(parseAtExpression('at(2026-12-31T23:59:59)')).toEqual(new Date('2026-12-31T23:59:59Z'));
      expect(parseAtExpression('cron(0 0 * * ? *)')).toBeUndefined();
      expect(parseAtExpression('at(2026-13-45T99:00:00)')).toBeUndefined();
      expect(parseAtExpression(undefined)).toBeUndefined();
    });
  });
});
