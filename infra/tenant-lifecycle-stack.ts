/** The control plane's one stack: the lifecycle table, the HTTPS API in front of it and the plan-change workflow. */
import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { StripePriceIds } from '../functions/plans/plan-catalog';
import { LifecycleApi } from './constructs/lifecycle-api';
import { LifecycleTable } from './constructs/lifecycle-table';
import { PlanChangeWorkflow } from './constructs/plan-change-workflow';

/** The route that starts plan-change executions (functions/api/routes.ts); the only one with Step Functions access. */
export const CHANGE_PLAN_ROUTE_ID = 'ChangePlan';

export interface TenantLifecycleStackProps extends StackProps {
  /**
   * What happens to the table, the log groups and the token signing key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Deletion protection of the table.
   * @default - true, unless removalPolicy is DESTROY (a protected table would block the stack's deletion)
   */
  readonly deletionProtection?: boolean;
  /**
   * Stripe price ids per plan, given to the route handlers as STRIPE_PRICE_<PLAN>.
   * @default - none
   */
  readonly stripePriceIds?: StripePriceIds;
  /**
   * Retention of the functions' logs and the API access logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * ARN of a Secrets Manager secret holding the Stripe secret key. The plan-change functions read it at run
   * time (never an environment variable with the key itself).
   * @default - no Stripe: plan changes bill to the local ledger in the table
   */
  readonly stripeSecretArn?: string;
}

export class TenantLifecycleStack extends Stack {
  readonly table: LifecycleTable;
  readonly api: LifecycleApi;
  readonly planChange: PlanChangeWorkflow;

  constructor(scope: Construct, id: string, props: TenantLifecycleStackProps = {}) {
    super(scope, id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.table = new LifecycleTable(this, 'LifecycleTable', {
      removalPolicy,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
    });
    this.api = new LifecycleApi(this, 'Api', {
      table: this.table,
      removalPolicy,
      logRetention: props.logRetention,
      stripePriceIds: props.stripePriceIds,
    });
    this.planChange = new PlanChangeWorkflow(this, 'PlanChange', {
      table: this.table,
      removalPolicy,
      logRetention: props.logRetention,
      stripePriceIds: props.stripePriceIds,
    });
    // No cycle: the state machine invokes only its task function, never the API's functions, so the route can
    // take the state machine's own ARN (a Ref) instead of one built from a fixed name.
    const changePlan = this.api.routeFunction(CHANGE_PLAN_ROUTE_ID);
    changePlan.function.addEnvironment('PLAN_CHANGE_STATE_MACHINE_ARN', this.planChange.stateMachine.stateMachineArn);
    this.planChange.grantStartExecution(changePlan);

    if (props.stripeSecretArn) {
      // Who calls billing: the workflow's functions, and ChangePlan for the dry run's proration preview.
      const stripeKey = Secret.fromSecretCompleteArn(this, 'StripeSecretKey', props.stripeSecretArn);
      for (const handler of [changePlan, this.planChange.taskFunction, this.planChange.timeoutFunction, this.planChange.sweeperFunction]) {
        handler.function.addEnvironment('STRIPE_SECRET_ARN', stripeKey.secretArn);
        stripeKey.grantRead(handler);
      }
    }

    new CfnOutput(this, 'ApiUrl', { value: this.api.url, description: 'Invoke URL of the tenant lifecycle API.' });
    new CfnOutput(this, 'TableName', { value: this.table.table.tableName, description: 'The lifecycle table.' });
    new CfnOutput(this, 'TokenSecretArn', {
      value: this.api.tokenSecret.secretArn,
      description: 'Secrets Manager secret holding the HMAC key for API tokens.',
    });
    new CfnOutput(this, 'PlanChangeStateMachineArn', {
      value: this.planChange.stateMachine.stateMachineArn,
      description: 'The plan-change workflow (Step Functions, Standard).',
    });
    new CfnOutput(this, 'PlanChangeDeadLetterQueueUrl', {
      value: this.planChange.deadLetterQueue.queueUrl,
      description: 'Compensations of timed-out or aborted plan changes that could not run: each message is a tenant to repair.',
    });
  }
}
