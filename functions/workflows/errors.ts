/**
 * Errors every workflow's steps may throw, and the names the ASL files may use besides their own. Their names
 * are a contract with `statemachines/*.asl.json`: Retry and Catch match on them (a Lambda error's type is the
 * error's `name`).
 */
import { StoreContentionError, isStoreContention } from '../shared/store-contention';
import { TRANSIENT_LAMBDA_INVOKE_ERRORS } from './lambda-invoke-errors';

/** The tenant is no longer owned by this operation (another actor moved it): stop and compensate. */
export class OperationSupersededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationSupersededError';
  }
}

export { StoreContentionError, isStoreContention } from '../shared/store-contention';

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
