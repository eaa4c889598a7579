/**
 * The schedule targets of a feature of the registry that is not a workflow (functions/workflows/registry.ts
 * featureDefinitions(), FeatureDefinition): one Lambda per target, invoked by EventBridge Scheduler through the
 * scheduler's role, with what its definition says and nothing more: the lifecycle table (`tableAccess`), the
 * schedules of the control plane's group (`scheduleAccess`), and what the stack grants for the feature's
 * `reaches` (functionsReaching). Failed deliveries are retried, then dead-lettered to the scheduler's queue;
 * each target's errors are alarmed. Names no particular feature.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { FeatureDefinition, WorkflowReach } from '../../functions/workflows/workflow-definition';
import { HandlerFunction } from './handler-function';
import { stripePriceEnvironment } from './lifecycle-api';
import type { OneShotScheduler } from './one-shot-scheduler';
import { breachOnAny, pascalCase, type WorkflowFunctionProps } from './workflow-state-machine';

/** What every function of the stack is built with, the feature whose schedule targets these are, and the scheduler. */
export interface FeatureScheduleTargetsProps extends WorkflowFunctionProps {
  readonly definition: FeatureDefinition;
  readonly scheduler: OneShotScheduler;
}

export class FeatureScheduleTargets extends Construct {
  readonly definition: FeatureDefinition;
  readonly targetFunctions: ReadonlyMap<string, HandlerFunction>;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: FeatureScheduleTargetsProps) {
    super(scope, id);
    const { definition } = props;
    this.definition = definition;
    const targets = new Map<string, HandlerFunction>();
    for (const { target, entry, tableAccess, scheduleAccess } of definition.scheduleTargets) {
      const name = pascalCase(target);
      const functionName = `${Stack.of(this).stackName.slice(0, 40)}-${name}`;
      const fn = new HandlerFunction(this, `${name}Function`, {
        entry,
        description: `Tenant lifecycle ${definition.title}: the target of its '${target}' schedules`,
        timeout: Duration.seconds(60),
        functionName,
        serviceName: props.serviceName ?? 'tenant-lifecycle',
        logRetention: props.logRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
        environment: { ...stripePriceEnvironment(props.stripePriceIds), TABLE_NAME: props.table.table.tableName },
      });
      if (tableAccess === 'read') props.table.grantReadTenants(fn);
      else props.table.grantWriteTenants(fn);
      props.scheduler.addTarget(target as never, fn, functionName);
      if (scheduleAccess === 'rearm') props.scheduler.grantRearm(fn);
      else if (scheduleAccess !== 'none') props.scheduler.grantSchedule(fn);
      // Scheduler invokes its Lambda targets asynchronously: failed deliveries are retried, then dead-lettered.
      fn.function.configureAsyncInvoke({ retryAttempts: 2, maxEventAge: Duration.hours(6), onFailure: new SqsDestination(props.scheduler.deadLetterQueue) });
      this.alarms.push(
        breachOnAny(this, `${name}Errors`, `A '${target}' schedule could not be handled (it is retried, then dead-lettered; the feature's sweep tries again).`, fn.function.metricErrors({ period: Duration.minutes(10), statistic: 'Sum' })),
      );
      targets.set(target, fn);
    }
    this.targetFunctions = targets;
  }

  /** The target functions that reach `reach` by the feature's definition: the stack grants each exactly these. */
  functionsReaching(reach: WorkflowReach): HandlerFunction[] {
    return this.definition.reaches.includes(reach) ? [...this.targetFunctions.values()] : [];
  }
}
