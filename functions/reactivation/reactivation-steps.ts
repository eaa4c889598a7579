/**
 * The reactivation workflow's Task steps: the work behind each state of statemachines/reactivation.asl.json.
 * The ASL holds the order (begin; for a fresh start from `deleting`, purge and verify each data source; bill;
 * provision; complete), the retries and the catch-all to `fail`; these functions hold the work.
 *
 * Each step is idempotent and records what it is about to do on the operation BEFORE doing it (`facts`), so the
 * compensation (`fail`, also run by the "execution ended badly" handler and the sweeper) undoes a call whose answer
 * was lost: it repeats the call with the same idempotency key (the provider answers what it did the first time,
 * or does it now) and takes back what that answer says was made. Once the compensation has claimed the operation,
 * a late step's record is refused (OperationEndedError), so nothing is made after the undo has begun.
 *
 * What cannot be undone: a fresh start's purge. A reactivation that fails after purging leaves the tenant where
 * it came from (`deleting`, schedules re-armed) with its soft delete marked as erasure begun, so nothing later
 * offers to restore data that is partly gone.
 */
import * as clock from '../shared/clock';
import { subscriptionHasEnded, type BillingAccount, type BillingChange, type BillingPort, type PlanChangeRequest } from '../billing/billing-port';
import { subscriptionLinkItem } from '../billing/subscription-links';
import type { DataSource } from '../data-sources/data-source';
import { DELETION_CERTIFICATE_SK, PURGE_CERTIFICATE_SK_PREFIX, archivedCertificateItem, sealed, type CertificateSource } from '../deletion/deletion-certificate';
import type { DeletionSchedule } from '../deletion/deletion-policy';
import { armDeletionSchedules, cancelDeletionSchedules } from '../deletion/deletion-schedules';
import { certificateSources, purgeOrder, purgeSource, verifySource } from '../deletion/source-purge';
import { OperationEndedError, type Operation, type OperationStore } from '../operations/operation-store';
import { comparePlans } from '../plans/plan-catalog';
import { resourcesFor, type PlanResources } from '../provisioning/plan-resources';
import type { ResourceProvisioner } from '../provisioning/provisioner';
import { soonestFiring, type SchedulerPort } from '../scheduler/scheduler-port';
import { logger } from '../shared/powertools';
import { tenantPk } from '../tenants/tenant-table';
import type { Tenant, TenantChanges, TenantStore } from '../tenants/tenant-store';
import { OperationSupersededError, guardContention } from '../workflows/errors';
import { describeFailure, type StepFailure } from '../workflows/step-failure';
import { REACTIVATING, REACTIVATION_ORIGINS, type ReactivationInput } from './reactivation-definition';
import type { ReactivationRecordInput } from './reactivation-request';

export const REACTIVATION_STEPS = ['begin', 'purge', 'verify', 'bill', 'provision', 'complete', 'fail'] as const;
export type ReactivationStep = (typeof REACTIVATION_STEPS)[number];

const { softDeleted: SOFT_DELETED, deleted: DELETED } = REACTIVATION_ORIGINS;

export interface ReactivationDependencies {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  readonly scheduler: SchedulerPort;
  readonly billing: BillingPort;
  readonly provisioner: ResourceProvisioner;
  /** Every data source (the registry, then the tenant's exports), in registry order; purged in reverse. */
  readonly sources: () => Promise<readonly DataSource[]>;
  readonly now?: () => Date;
}

/** What a Task state hands its step. */
export type ReactivationTaskEvent =
  | { readonly step: 'begin' | 'bill' | 'provision' | 'complete'; readonly operation: ReactivationInput }
  | { readonly step: 'purge' | 'verify'; readonly operation: ReactivationInput; readonly source: string }
  | { readonly step: 'fail'; readonly operation: ReactivationInput; readonly failure?: StepFailure };

/** What billing did (or is about to do), recorded on the operation as `billing`. */
export interface ReactivationBilling {
  /**
   * `restored`: a new subscription for the customer (Stripe cannot revive a cancelled one); `created`: a new customer
   * and subscription (a deleted tenant); `plan_changed`: the live subscription moved to the plan; `unchanged`: the
   * live subscription already bills the plan; `none`: the tenant is not billed (its plan has no price).
   */
  readonly kind: 'restored' | 'created' | 'plan_changed' | 'unchanged' | 'none';
  /** The idempotency key of the call (its replay answers the same). */
  readonly idempotencyKey: string;
  /** Once answered: the account the tenant is billed on. */
  readonly account?: BillingAccount;
  readonly change?: BillingChange;
  readonly done?: boolean;
}

/**
 * What a fresh start purged before the tenant came back: every data source's count before, what was deleted and
 * kept (with its basis), and the verification; sealed like the deletion certificate (SHA-256 of the canonical
 * JSON of every other field, RFC 8785 for these values). Stored in the tenant's partition
 * (`PURGE_CERTIFICATE#<operationId>`, owned by the audit source) and on the operation's facts.
 */
export interface PurgeCertificate {
  readonly certificateId: string;
  readonly tenantId: string;
  readonly operationId: string;
  readonly kind: 'fresh_start';
  readonly requestedBy: string;
  readonly requestedAt: string;
  readonly completedAt: string;
  readonly sources: readonly CertificateSource[];
  readonly sha256: string;
}

const BILLING_FACT = 'billing';
const PROVISIONING_FACT = 'provisioning';

function contextOf(input: ReactivationInput, reason: string) {
  return { actor: input.requestedBy, reason, operationId: input.operationId, reactivationPath: input.path };
}

/** The operation, still running; OperationEndedError once it ended or a compensation claimed it. */
async function running(deps: ReactivationDependencies, input: ReactivationInput): Promise<Operation> {
  const operation = await deps.operations.get(input.operationId);
  if (operation.status !== 'running') throw new OperationEndedError(input.operationId, operation.status);
  return operation;
}

/** The tenant, still `reactivating` under this operation; OperationSupersededError otherwise. */
async function owned(deps: ReactivationDependencies, input: ReactivationInput): Promise<Tenant> {
  const tenant = await deps.tenants.get(input.tenantId);
  if (tenant.state !== REACTIVATING || tenant.operationId !== input.operationId) {
    throw new OperationSupersededError(`Tenant '${input.tenantId}' is no longer reactivating under ${input.operationId} (state ${tenant.state}, operation ${tenant.operationId ?? 'none'}).`);
  }
  return tenant;
}

/** A source a fresh start cannot purge or certify (unknown, or out of order): the reactivation fails and is undone. */
const incompleteError = (message: string) => new OperationSupersededError(message);

/**
 * Step 1: from `deleting`, cancel the soft delete's two schedules (a failure re-arms them: failReactivation); the
 * marker recorded first refuses a late Begin once the compensation has claimed the operation, so it never cancels
 * what the compensation re-armed. Answers the data sources to purge (a fresh start from `deleting`; none otherwise:
 * a deleted tenant's were purged by its hard delete, a restore keeps them).
 */
async function begin(deps: ReactivationDependencies, input: ReactivationInput): Promise<{ readonly sources: readonly string[] }> {
  const tenant = await owned(deps, input);
  if (input.origin === SOFT_DELETED && tenant.deletion) {
    await deps.operations.recordStep(input.operationId, 'cancelling_schedules');
    await cancelDeletionSchedules(deps.scheduler, tenant.deletion);
  }
  const purge = input.path === 'fresh_start' && input.origin === SOFT_DELETED;
  return { sources: purge ? await purgeOrder(deps) : [] };
}

/** Purge one source (source-purge.ts purgeSource), the tenant still reactivating under this operation. */
async function purge(deps: ReactivationDependencies, input: ReactivationInput, name: string): Promise<void> {
  await owned(deps, input);
  await purgeSource(deps, await running(deps, input), name, incompleteError);
}

/** Verify one source holds nothing of the tenant but what it keeps by law; ResidualDataError (retried by the ASL) while it does. */
async function verify(deps: ReactivationDependencies, input: ReactivationInput, name: string): Promise<void> {
  await owned(deps, input);
  await verifySource(deps, input, name, incompleteError);
}

/** The plan-change request that moves a live subscription to the reactivation's plan. */
function planChangeRequest(input: ReactivationInput, account: BillingAccount): PlanChangeRequest {
  const fromPlan = input.fromPlan ?? input.plan;
  return { operationId: input.operationId, tenantId: input.tenantId, fromPlan, toPlan: input.plan, direction: comparePlans(fromPlan, input.plan) === 'downgrade' ? 'downgrade' : 'upgrade', timing: 'immediately', account };
}


/** What billing must do for this reactivation, decided from the tenant (and, on resume, the subscription as the provider has it). */
async function billingPlan(deps: ReactivationDependencies, input: ReactivationInput, tenant: Tenant): Promise<ReactivationBilling> {
  const idempotencyKey = `${input.tenantId}:reactivation:${input.operationId}`;
  const account = tenant.billing;
  if (input.origin === DELETED || !account) return { kind: 'created', idempotencyKey };
  if (input.origin === SOFT_DELETED) return { kind: 'restored', idempotencyKey };
  const subscription = await deps.billing.retrieveSubscription({ tenantId: input.tenantId, account });
  if (!subscription || subscriptionHasEnded(subscription.status)) return { kind: 'restored', idempotencyKey };
  return input.plan === tenant.plan ? { kind: 'unchanged', idempotencyKey, account, done: true } : { kind: 'plan_changed', idempotencyKey };
}

/** Make the call `plan` stands for (idempotent on its key: a replay answers what the first call did). */
async function callBilling(deps: ReactivationDependencies, input: ReactivationRecordInput, tenant: Tenant, plan: ReactivationBilling): Promise<ReactivationBilling> {
  switch (plan.kind) {
    case 'restored': {
      const account = await deps.billing.restoreSubscription({ tenantId: input.tenantId, account: tenant.billing, plan: input.plan, idempotencyKey: plan.idempotencyKey });
      return { ...plan, ...(account ? { account } : {}), done: true };
    }
    case 'created': {
      const contact = input.contact ?? { name: tenant.name, email: tenant.email };
      const account = await deps.billing.createCustomer({ tenantId: input.tenantId, name: contact.name, email: contact.email, plan: input.plan, idempotencyKey: plan.idempotencyKey });
      return account ? { ...plan, account, done: true } : { ...plan, kind: 'none', done: true };
    }
    case 'plan_changed': {
      const account = tenant.billing as BillingAccount;
      const change = await deps.billing.applyPlanChange(planChangeRequest(input, account));
      return { ...plan, account, change, done: true };
    }
    default:
      return { ...plan, done: true };
  }
}

/**
 * Step 3: billing again. From `deleting` (its subscription was cancelled by the soft delete) and from a suspension
 * whose subscription ended: a new subscription for the customer on the plan. A deleted tenant (its customer was
 * deleted): a new customer and subscription. A suspended tenant whose subscription is live: moved to the plan if
 * another was asked, else left as it is. Recorded before the call, and with its answer after.
 */
async function bill(deps: ReactivationDependencies, input: ReactivationInput): Promise<void> {
  const tenant = await owned(deps, input);
  const operation = await running(deps, input);
  const recorded = operation.facts[BILLING_FACT] as ReactivationBilling | undefined;
  if (recorded?.done) return;
  const plan = recorded ?? (await billingPlan(deps, input, tenant));
  if (!recorded) await deps.operations.recordStep(input.operationId, 'billing_started', { [BILLING_FACT]: plan });
  const done = await callBilling(deps, operation.input as unknown as ReactivationRecordInput, tenant, plan);
  await deps.operations.recordStep(input.operationId, 'billed', { [BILLING_FACT]: done });
}

/** Step 4: the plan's resources, provisioned under this operation (recorded first: a failure releases them). */
async function provision(deps: ReactivationDependencies, input: ReactivationInput): Promise<void> {
  const tenant = await owned(deps, input);
  await deps.operations.recordStep(input.operationId, 'provisioning_started', { [PROVISIONING_FACT]: true });
  // A fresh start's old placement held only purged data: nothing is migrated from it.
  const current = input.path === 'fresh_start' ? undefined : tenant.resources;
  await deps.provisioner.provision(input.tenantId, input.operationId, resourcesOf(input), current);
  try {
    await deps.operations.recordStep(input.operationId, 'provisioned');
  } catch (error) {
    // Compensated while provisioning: its release may have run before this finished. An operation that succeeded (a
    // retry of this step, after States.Timeout, went on to complete it) runs on them.
    if (error instanceof OperationEndedError && error.status !== 'succeeded') await deps.provisioner.release(input.tenantId, input.operationId);
    throw error;
  }
}

function resourcesOf(input: ReactivationInput): PlanResources {
  return { ...resourcesFor(input.tenantId, input.plan), provisionedBy: input.operationId };
}

/** The sealed certificate of a fresh start's purge, from the operation's facts. */
async function purgeCertificate(deps: ReactivationDependencies, input: ReactivationInput, operation: Operation, completedAt: string): Promise<PurgeCertificate> {
  const sources = await certificateSources(deps, operation, incompleteError);
  return sealed({ certificateId: `purge_${input.operationId}`, tenantId: input.tenantId, operationId: input.operationId, kind: 'fresh_start' as const, requestedBy: input.requestedBy, requestedAt: input.requestedAt, completedAt, sources });
}

/**
 * Step 5: `complete_reactivation` with the plan, its resources, the billing account, the soft delete's record
 * dropped, a fresh start's reset (contact details, usage at zero, the tombstone's fields), the new subscription's
 * link and a fresh start's purge certificate, and the operation's `succeeded`: one transaction. Then the placement
 * the tenant had is released (unused from now on; best effort, a leftover is released by the next change).
 */
async function complete(deps: ReactivationDependencies, input: ReactivationInput): Promise<{ readonly outcome: 'succeeded'; readonly certificateId?: string }> {
  const tenant = await owned(deps, input);
  const operation = await running(deps, input);
  const record = operation.input as unknown as ReactivationRecordInput;
  const billing = operation.facts[BILLING_FACT] as ReactivationBilling | undefined;
  if (!billing?.done || !operation.steps.includes('provisioned')) throw new OperationSupersededError('Billing or provisioning has no recorded completion: the reactivation cannot complete.');
  const now = clock.nowOf(deps).toISOString();
  const certificate = input.path === 'fresh_start' && input.origin === SOFT_DELETED ? await purgeCertificate(deps, input, operation, now) : undefined;
  const newSubscription = billing.account && billing.account.subscriptionId !== tenant.billing?.subscriptionId;
  const changes: TenantChanges = {
    plan: input.plan,
    resources: resourcesOf(input),
    // The soft delete it takes back, or the one a deleted tenant's tombstone kept: over either way.
    ...(tenant.deletion ? { deletion: null } : {}),
    ...(billing.account ? { billing: billing.account } : {}),
    // A new subscription starts in good standing: the dunning ladder of the old one is over.
    ...(newSubscription ? { dunning: null } : {}),
    ...(input.path === 'fresh_start' ? { freshStart: record.contact ?? { name: tenant.name, email: tenant.email } } : {}),
  };
  const previous = tenant.resources?.provisionedBy;
  // A deleted tenant's deletion certificate moves to its archived key in the same transaction: the proof of that
  // erasure stays, and a later deletion of the tenant writes its own certificate.
  const deletionCertificate = input.origin === DELETED ? await deps.tenants.deletionCertificate(input.tenantId) : undefined;
  await deps.tenants.applyTransition(tenant, 'complete_reactivation', contextOf(input, completionReason(input, certificate)), {
    changes,
    alsoPut: [
      ...(newSubscription && billing.account ? [subscriptionLinkItem(input.tenantId, billing.account)] : []),
      ...(certificate ? [{ pk: tenantPk(input.tenantId), sk: `${PURGE_CERTIFICATE_SK_PREFIX}${input.operationId}`, type: 'purge-certificate', ...certificate }] : []),
      ...(deletionCertificate ? [archivedCertificateItem(deletionCertificate)] : []),
    ],
    alsoDelete: deletionCertificate ? [{ pk: tenantPk(input.tenantId), sk: DELETION_CERTIFICATE_SK }] : [],
    alsoUpdate: [deps.operations.finishUpdate(input.operationId, 'succeeded', 'running', undefined, certificate ? { certificate } : {})],
  });
  if (previous && previous !== input.operationId) {
    try {
      await deps.provisioner.release(input.tenantId, previous);
    } catch (error) {
      logger.warn('Could not release the placement the tenant had before its reactivation', { previous, error });
    }
  }
  return { outcome: 'succeeded', ...(certificate ? { certificateId: certificate.certificateId } : {}) };
}

function completionReason(input: ReactivationInput, certificate: PurgeCertificate | undefined): string {
  const from = input.origin === DELETED ? 'deletion' : input.origin === SOFT_DELETED ? 'soft delete' : 'suspension';
  const data = input.path === 'fresh_start' ? `as a fresh start${certificate ? ` (old data purged, certificate ${certificate.certificateId}, sha256 ${certificate.sha256})` : ''}` : 'with its data';
  return `Reactivated from ${from} on the ${input.plan} plan ${data}`;
}

/**
 * The catch-all and the compensation: undo what the reactivation made (the new subscription or customer, a plan
 * moved, the resources it provisioned), re-arm the soft delete's schedules it cancelled, and
 * `fail_reactivation` back to where the tenant came from with the operation `rolled_back`, in one transaction.
 * Idempotent: an operation already ended is left as it is (its status answered).
 */
export async function failReactivation(deps: ReactivationDependencies, input: ReactivationInput, failure: StepFailure | undefined): Promise<{ outcome: Operation['status'] }> {
  const error = describeFailure(failure, 'The reactivation failed without an error.');
  const existing = await deps.operations.find(input.operationId);
  if (!existing) return { outcome: 'failed' };
  if (!['running', 'compensating'].includes(existing.status)) return { outcome: existing.status };
  const operation = await deps.operations.beginCompensation(input.operationId, ['running', 'compensating']);
  if (!operation) return { outcome: (await deps.operations.get(input.operationId)).status };
  const tenant = await deps.tenants.find(input.tenantId);
  await undoBilling(deps, input, tenant, operation);
  if (operation.facts[PROVISIONING_FACT]) await deps.provisioner.release(input.tenantId, input.operationId);
  const purged = Object.keys(operation.facts).some((fact) => fact.startsWith('purge:'));
  const deletion = tenant?.deletion;
  // Re-armed whether or not Begin recorded cancelling them: the deadline may have fired (and been spent, stopping
  // as `reactivated`) while the tenant was reactivating. Arming is idempotent (fixed names per tenant).
  if (input.origin === SOFT_DELETED && deletion) await rearm(deps, input.tenantId, deletion);
  const end = deps.operations.finishUpdate(input.operationId, 'rolled_back', 'compensating', error);
  if (tenant?.operationId === input.operationId && tenant.state === REACTIVATING) {
    const changes: TenantChanges = purged && deletion && !deletion.erasureStarted ? { deletion: { ...deletion, erasureStarted: { at: clock.nowOf(deps).toISOString(), operationId: input.operationId } } } : {};
    await deps.tenants.applyTransition(tenant, 'fail_reactivation', contextOf(input, `Reactivation failed (${error.code}): ${error.message}${purged ? '; the old data it had begun to purge stays purged' : ''}`), { changes, alsoUpdate: [end] });
  } else {
    await deps.operations.finish(input.operationId, 'rolled_back', 'compensating', error);
  }
  logger.warn('Reactivation rolled back: the tenant is back where it came from', { origin: input.origin, path: input.path, error });
  return { outcome: 'rolled_back' };
}

/** Re-arm the soft delete's schedules: the hard delete at its deadline, or in a minute if that has passed meanwhile. */
async function rearm(deps: ReactivationDependencies, tenantId: string, deletion: DeletionSchedule): Promise<void> {
  const soon = soonestFiring(clock.nowOf(deps));
  const deadline = new Date(deletion.deadline);
  await armDeletionSchedules(deps.scheduler, tenantId, deletion, deadline > soon ? deadline : soon);
}

/** Take back what billing made: the answer recorded, or (lost) the replayed call's answer with the same key. */
async function undoBilling(deps: ReactivationDependencies, input: ReactivationInput, tenant: Tenant | undefined, operation: Operation): Promise<void> {
  const recorded = operation.facts[BILLING_FACT] as ReactivationBilling | undefined;
  if (!recorded || recorded.kind === 'unchanged' || recorded.kind === 'none') return;
  const undoKey = `${recorded.idempotencyKey}:undo`;
  switch (recorded.kind) {
    case 'plan_changed': {
      const account = recorded.account ?? tenant?.billing;
      if (!account) return;
      const request = planChangeRequest(input, account);
      const change = recorded.change ?? (await deps.billing.findAppliedChange(request));
      if (change) await deps.billing.revertPlanChange(request, change);
      return;
    }
    case 'restored': {
      const done = recorded.done ? recorded : tenant ? await callBilling(deps, operation.input as unknown as ReactivationRecordInput, tenant, recorded) : recorded;
      if (done.account && done.account.subscriptionId !== tenant?.billing?.subscriptionId) {
        await deps.billing.cancelSubscription({ tenantId: input.tenantId, account: done.account, plan: input.plan, idempotencyKey: undoKey });
      }
      return;
    }
    case 'created': {
      const done = recorded.done ? recorded : tenant ? await callBilling(deps, operation.input as unknown as ReactivationRecordInput, tenant, recorded) : recorded;
      if (done.account) await deps.billing.deleteCustomer({ tenantId: input.tenantId, account: done.account, plan: input.plan, idempotencyKey: undoKey });
      return;
    }
  }
}

/** The step dispatcher the task handler and the local runner both call. */
export async function runReactivationStep(deps: ReactivationDependencies, event: ReactivationTaskEvent): Promise<unknown> {
  return guardContention(event.step, () => dispatch(deps, event));
}

async function dispatch(deps: ReactivationDependencies, event: ReactivationTaskEvent): Promise<unknown> {
  switch (event.step) {
    case 'begin':
      return begin(deps, event.operation);
    case 'purge':
      return purge(deps, event.operation, event.source);
    case 'verify':
      return verify(deps, event.operation, event.source);
    case 'bill':
      return bill(deps, event.operation);
    case 'provision':
      return provision(deps, event.operation);
    case 'complete':
      return complete(deps, event.operation);
    case 'fail':
      return failReactivation(deps, event.operation, event.failure);
  }
}
