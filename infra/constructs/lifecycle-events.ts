/**
 * Lifecycle events on AWS (functions/events/): the stack's own event bus, and a publisher Lambda fed by the
 * lifecycle table's stream, filtered to new audit items, that puts one event per audit item on it. The
 * transactional outbox is the audit item itself (written in the tenant change's transaction), so an event is
 * published only after its change committed; at least once, through the event source mapping's retries
 * (partial batch responses, bisection), then a dead-letter queue with an alarm. One shard is read by one
 * invocation at a time (parallelization factor 1), so one tenant's audit items are handed over in version order.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { FilterCriteria, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AUDIT_INSERT_FILTER, EVENT_SOURCE } from '../../functions/events/lifecycle-events';
import { deadLetterQueue } from './dead-letter-queue';
import { HandlerFunction } from './handler-function';
import type { LifecycleTable } from './lifecycle-table';
import { breachOnAny } from './workflow-state-machine';

export const EVENTS_PUBLISHER_ENTRY = 'functions/events/handlers/publish-lifecycle-events.ts';
/**
 * How often a batch is retried before it goes to the dead-letter queue: with bisection on, a failing record
 * is isolated in about log2(100) ≈ 7 splits, and a bus briefly unavailable has ten tries (Lambda backs off
 * between them). Stream records live 24 hours; `maxRecordAge` stops retries before they are trimmed.
 */
export const PUBLISHER_RETRY_ATTEMPTS = 10;
/** Iterator age past which events are late enough to page: the stream is read but publishing lags. */
export const ITERATOR_AGE_ALARM_MS = 5 * 60_000;

export interface LifecycleEventsProps {
  readonly table: LifecycleTable;
  /** @default RetentionDays.ONE_MONTH */
  readonly logRetention?: RetentionDays;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Days the bus's archive keeps the lifecycle events, for a consumer to replay what it missed.
   * @default 30
   */
  readonly archiveRetentionDays?: number;
}

export class LifecycleEvents extends Construct {
  /** The stack's lifecycle event bus: consumers add rules on `source: ["tenant-lifecycle"]` here. */
  readonly bus: EventBus;
  readonly publisher: HandlerFunction;
  /** Stream batches given up after their retries (each message names the shard and sequence numbers). */
  readonly deadLetterQueue: Queue;
  readonly deadLettersAlarm: Alarm;
  readonly errorsAlarm: Alarm;
  readonly iteratorAgeAlarm: Alarm;

  constructor(scope: Construct, id: string, props: LifecycleEventsProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    // A bus of the stack, not the account's default one: the publisher may put events on it and nowhere else,
    // and consumers' rules and the archive see only the control plane's events.
    this.bus = new EventBus(this, 'Bus', { description: `Tenant lifecycle events (source ${EVENT_SOURCE}, detail-type tenant.<event>)` });
    this.bus.applyRemovalPolicy(removalPolicy);
    this.bus.archive('Archive', {
      description: 'Lifecycle events, for consumers to replay what they missed.',
      eventPattern: { source: [EVENT_SOURCE] },
      retention: Duration.days(props.archiveRetentionDays ?? 30),
    });

    this.publisher = new HandlerFunction(this, 'Publisher', {
      entry: EVENTS_PUBLISHER_ENTRY,
      description: "Tenant lifecycle events: publish each new audit item of the table's stream to the event bus",
      timeout: Duration.minutes(1),
      serviceName: 'tenant-lifecycle',
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
      environment: { EVENT_BUS_NAME: this.bus.eventBusName },
    });
    this.bus.grantPutEventsTo(this.publisher);

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', removalPolicy, "of the lifecycle events' stream mapping (its on-failure destination: batches not published after their retries)");
    this.publisher.function.addEventSource(
      new DynamoEventSource(props.table.table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        parallelizationFactor: 1,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: PUBLISHER_RETRY_ATTEMPTS,
        maxRecordAge: Duration.hours(23),
        onFailure: new SqsDlq(this.deadLetterQueue),
        filters: [FilterCriteria.filter(AUDIT_INSERT_FILTER as unknown as Record<string, unknown>)],
      }),
    );
    // The stream grant includes dynamodb:ListStreams, which has no resource-level permissions.
    Validations.of(this.publisher.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'dynamodb:ListStreams (granted with the table stream read by the event source mapping) supports no resource-level permission; the other stream actions name the table\'s stream.',
    });

    this.deadLettersAlarm = breachOnAny(
      this,
      'DeadLetters',
      `Lifecycle events were not published after ${PUBLISHER_RETRY_ATTEMPTS} retries: each message names a stream batch (shard, sequence numbers); republish from the tenants' audit trails (GET /tenants/{id}/history).`,
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    );
    this.errorsAlarm = breachOnAny(this, 'Errors', 'The lifecycle events publisher failed; its batches are retried, then dead-lettered.', this.publisher.function.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' }));
    this.iteratorAgeAlarm = new Alarm(this, 'IteratorAge', {
      alarmDescription: `Lifecycle events are published more than ${ITERATOR_AGE_ALARM_MS / 60_000} minutes after their change (the stream's iterator age).`,
      metric: this.publisher.function.metric('IteratorAge', { period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: ITERATOR_AGE_ALARM_MS,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }
}
