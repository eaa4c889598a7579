/**
 * Errors the plan-change steps throw. Their names are a contract with statemachines/plan-change.asl.json:
 * Retry and Catch match on them (a Lambda error's type is the error's `name`), and a test checks that every
 * name the ASL uses is exported here or by another module of the workflow.
 */
import { TRANSIENT_LAMBDA_INVOKE_ERRORS } from '../workflows/lambda-invoke-errors';

/** Queries still hold leases; the drain step is retried until they finish or the drain timeout passes. */
export class QueriesStillRunningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueriesStillRunningError';
  }
}

/** Leases outlived the drain timeout: the plan change rolls back rather than interrupt the queries. */
export class DrainTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DrainTimeoutError';
  }
}

/** The tenant is no longer owned by this operation (another actor moved it): stop and compensate. */
export class OperationSupersededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationSupersededError';
  }
}

/**
 * DynamoDB answered that the item is busy or the request rate too high (a conflicting transaction, throttling):
 * the step is retried. Raised in place of the SDK's own errors so the ASL names one class of ours.
 */
export class StoreContentionError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreContentionError';
  }
}

const CONTENTION_ERRORS = new Set([
  'TransactionConflictException',
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
]);

/** True for a DynamoDB error that a retry fixes, including a transaction cancelled only by a conflict. */
export function isStoreContention(error: unknown): boolean {
  const name = (error as { name?: string })?.name ?? '';
  if (CONTENTION_ERRORS.has(name)) return true;
  const reasons = (error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons;
  return name === 'TransactionCanceledException' && !!reasons?.some((r) => r.Code === 'TransactionConflict') && !reasons.some((r) => r.Code === 'ConditionalCheckFailed');
}

export { BillingRejectedError, BillingTransientError } from '../billing/billing-port';
export { ProvisioningTransientError } from '../provisioning/provisioner';

/** Error names the ASL may use besides ours: the States language's own, and Lambda's transient invoke errors. */
export const ASL_RESERVED_ERRORS = ['States.ALL', 'States.Timeout', 'States.TaskFailed', ...TRANSIENT_LAMBDA_INVOKE_ERRORS] as const;
