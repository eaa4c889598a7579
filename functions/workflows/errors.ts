/**
 * Errors every workflow's steps may throw, and the names the ASL files may use besides their own. Their names
 * are a contract with `statemachines/*.asl.json`: Retry and Catch match on them (a Lambda error's type is the
 * error's `name`).
 */
import { TRANSIENT_LAMBDA_INVOKE_ERRORS } from './lambda-invoke-errors';

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

/**
 * DynamoDB errors a retry fixes. Source: Amazon DynamoDB Developer Guide, "Error handling with DynamoDB"
 * (TransactionConflictException, ProvisionedThroughputExceededException, ThrottlingException,
 * RequestLimitExceeded, InternalServerError are retryable).
 */
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

/**
 * Run `work` (a step named `step`), turning DynamoDB's transaction conflicts and throttling into
 * StoreContentionError, the error the ASL retries. Anything else is thrown as it is.
 */
export async function guardContention<T>(step: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (isStoreContention(error)) throw new StoreContentionError(`DynamoDB contention in ${step}: ${(error as Error).message}`, { cause: error });
    throw error;
  }
}

/** Error names the ASL may use besides ours: the States language's own, and Lambda's transient invoke errors. */
export const ASL_RESERVED_ERRORS = ['States.ALL', 'States.Timeout', 'States.TaskFailed', ...TRANSIENT_LAMBDA_INVOKE_ERRORS] as const;
