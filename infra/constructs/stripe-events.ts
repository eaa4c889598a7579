/**
 * Stripe events through Amazon EventBridge (built with `-c stripeEventSource=aws.partner/stripe.com/...`): the
 * partner event bus for the Stripe event destination's partner event source
 * (https://docs.stripe.com/event-destinations/eventbridge: Stripe creates the source, the bus must be named after
 * it), a rule matching Stripe's source on it, and the function that hands each event to the Stripe event
 * processor (functions/dunning/handlers/stripe-eventbridge.ts), the same processor as the webhook's.
 *
 * Failures: a delivery the rule cannot make (throttling, a missing permission) is retried for up to
 * `maxEventAge` and then put on the dead-letter queue; an invocation that throws (the processor could not
 * commit) is retried twice by Lambda's asynchronous invocation and then put on the same queue. One alarm on it.
 * Malformed events are not failures: the function logs and drops them (a retry would not mend them).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { EventBus, Match, Rule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { STRIPE_PARTNER_SOURCE_PREFIX } from '../../functions/dunning/stripe-event-delivery';
import { deadLetterQueue } from './dead-letter-queue';
import { HandlerFunction } from './handler-function';
import { stripePriceEnvironment } from './lifecycle-api';
import { breachOnAny, type WorkflowFunctionProps } from './workflow-state-machine';

export const STRIPE_EVENTBRIDGE_ENTRY = 'functions/dunning/handlers/stripe-eventbridge.ts';

/** A Stripe partner event source name: `aws.partner/stripe.com/` and the rest Stripe gives it. */
export const STRIPE_EVENT_SOURCE_PATTERN = /^aws\.partner\/stripe\.com\/[\w.\-/]{1,200}$/;

export interface StripeEventsProps extends WorkflowFunctionProps {
  /** The partner event source Stripe created in this account and region (`aws.partner/stripe.com/...`). */
  readonly eventSourceName: string;
}

export class StripeEvents extends Construct {
  /** The partner event bus, named after the event source (EventBridge requires it). */
  readonly eventBus: EventBus;
  readonly rule: Rule;
  readonly processorFunction: HandlerFunction;
  readonly deadLetterQueue: Queue;
  /** Breaches when a Stripe event could not be delivered or processed after its retries. */
  readonly alarm: Alarm;

  constructor(scope: Construct, id: string, props: StripeEventsProps) {
    super(scope, id);
    if (!STRIPE_EVENT_SOURCE_PATTERN.test(props.eventSourceName)) {
      throw new Error(`stripeEventSource must be a Stripe partner event source name (${STRIPE_PARTNER_SOURCE_PREFIX}...), got '${props.eventSourceName}'.`);
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.eventBus = new EventBus(this, 'PartnerEventBus', { eventSourceName: props.eventSourceName });
    this.deadLetterQueue = deadLetterQueue(
      this,
      'DeadLetterQueue',
      removalPolicy,
      "of the Stripe events rule's target (events it could not deliver) and the on-failure destination of the processor's asynchronous invocations (events it could not process after its retries)",
    );
    this.processorFunction = new HandlerFunction(this, 'ProcessorFunction', {
      entry: STRIPE_EVENTBRIDGE_ENTRY,
      description: 'Tenant lifecycle: Stripe events from the partner event bus, to the Stripe event processor',
      timeout: Duration.seconds(30),
      serviceName: props.serviceName ?? 'tenant-lifecycle',
      logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy,
      environment: { ...stripePriceEnvironment(props.stripePriceIds), TABLE_NAME: props.table.table.tableName },
    });
    props.table.grantWriteTenants(this.processorFunction);
    // Processing failures (thrown): Lambda retries an asynchronous invocation twice, then hands it to the queue.
    this.processorFunction.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(this.deadLetterQueue) });
    this.rule = new Rule(this, 'StripeEventsRule', {
      eventBus: this.eventBus,
      description: 'Every Stripe event of the event destination, to the Stripe event processor.',
      eventPattern: { source: Match.prefix(STRIPE_PARTNER_SOURCE_PREFIX) },
    });
    // Delivery failures: the rule retries with backoff for up to 24 h (at most 185 attempts), then dead-letters.
    this.rule.addTarget(new LambdaFunction(this.processorFunction.function, { retryAttempts: 185, maxEventAge: Duration.hours(24), deadLetterQueue: this.deadLetterQueue }));
    this.alarm = breachOnAny(
      this,
      'DeadLetters',
      'A Stripe event from EventBridge could not be delivered or processed after its retries: replay it from the dead-letter queue once the cause is fixed (the processor deduplicates on the event id), or run the billing reconciliation.',
      this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
    );
  }
}
