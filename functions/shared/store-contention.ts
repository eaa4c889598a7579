/**
 * DynamoDB contention: a conflicting transaction or throttling, which a retry fixes. The API answers it
 * 503 TENANT_BUSY; a workflow's step raises StoreContentionError, which its ASL retries.
 */

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
