/**
 * Errors the plan-change steps throw. Their names are a contract with statemachines/plan-change.asl.json:
 * Retry and Catch match on them (a Lambda error's type is the error's `name`), and a test checks that every
 * name the ASL uses is exported here (its own, and those it shares with every workflow).
 */

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

export { ASL_RESERVED_ERRORS, OperationSupersededError, StoreContentionError, isStoreContention } from '../workflows/errors';
export { BillingRejectedError, BillingTransientError } from '../billing/billing-port';
export { ProvisioningTransientError } from '../provisioning/provisioner';
