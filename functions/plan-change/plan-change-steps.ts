/**
 * The plan-change workflow's Task steps: the work behind each state of statemachines/plan-change.asl.json.
 * The ASL holds the order, retries and the catch-all to `compensate`; these functions hold the work. Each is
 * idempotent (a retried step changes nothing twice) and records its progress on the operation record first,
 * so `compensate` knows what to undo even when a step's output was lost.
 *
 * The calls budget: each step hands what it learned to the next (`PlanChangeInput.known`, through the ASL's
 * ResultPath) instead of the next one reading it again. Its writes are conditioned on the carried tenant
 * version, so a stale one is refused by DynamoDB; a step whose carried facts turn out stale (a retry of a step
 * that had done its work, a tenant changed under it) falls back to reading the tenant and the operation, as
 * every step does when nothing is carried (a scheduled change's start, a redelivered execution).
 * A step marker written on the condition that the operation is still `running` needs no read of the tenant
 * to know the operation still owns it: the only events out of `upgrading`/`downgrading` are the complete and
 * rollback events, which only the owner may apply; the commit ends the operation in the same transaction,
 * and a compensation claims the operation (`compensating`) before it rolls the tenant back.
 */
import * as clock from '../shared/clock';
import { BillingRejectedError, type BillingAccount, type BillingChange, type PlanChangeRequest, type PlanChangeTiming } from '../billing/billing-port';
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';
import { OperationEndedError, type Operation } from '../operations/operation-store';
import type { PlanId } from '../plans/plan-catalog';
import { resourcesFor, type PlanResources } from '../provisioning/plan-resources';
import { VersionConflictError } from '../tenants/errors';
import { knownTenant, type KnownTenant } from '../tenants/tenant-store';
import { isStoreContention } from '../shared/store-contention';
import { guardContention } from '../workflows/errors';
import type { WorkflowPorts } from '../workflows/ports';
import { describeFailure, type StepFailure } from '../workflows/step-failure';
import { DrainTimeoutError, OperationSupersededError, QueriesStillRunningError } from './errors';

/** The execution input: ids and choices only, never payloads (Step Functions' 256 KB limit). */
export interface PlanChangeInput {
  readonly operationId: string;
  readonly tenantId: string;
  readonly direction: 'upgrade' | 'downgrade';
  readonly fromPlan: PlanId;
  readonly toPlan: PlanId;
  readonly timing: PlanChangeTiming;
  readonly drainTimeoutSeconds: number;
  /**
   * The operator forced the change: the drain revokes the tenant's live query leases instead of waiting for
   * them, and every history entry of the change carries `forced: true` (absent: executions from before it).
   */
  readonly force?: boolean;
  readonly requestedBy: string;
  /** The tenant's Stripe subscription at request time (ids only). */
  readonly account?: BillingAccount;
  /** What the execution has learned so far (absent or null: the step reads what it needs). */
  readonly known?: KnownFacts | null;
}

/**
 * What a plan-change execution carries from step to step (the ASL puts each working step's result at
 * `$.operation.known`): small values only, never records (Step Functions' 256 KB payload limit).
 */
export interface KnownFacts {
  /** The tenant as the last write left it; the next write is conditioned on its version. */
  readonly tenant: KnownTenant;
  /** When the read-only window opened: the drain timeout counts from it. */
  readonly drainStartedAt?: string;
  /** A forced change's drain: the leases it revoked (empty: none was live), for the commit's history entry. */
  readonly revokedLeases?: readonly RevokedLease[];
  /**
   * `billing_started` is recorded (with `provisioned`, by an immediate change's provisioning step): the billing step
   * calls billing while the operation runs (it reads it first), and reverts the change itself if it ended meanwhile.
   */
  readonly billingStarted?: boolean;
}

/** A query lease a forced plan change revoked: its id and who held it. */
export interface RevokedLease {
  readonly leaseId: string;
  readonly holder: string;
}

/** What a forced change adds to each of its history entries (ChangeContext.forced); nothing for any other. */
export function forcedContext(input: Pick<PlanChangeInput, 'force'>): { readonly forced?: true } {
  return input.force ? { forced: true } : {};
}

/** `count` query lease(s), in words. */
function leasesInWords(count: number): string {
  return `${count} live query lease${count === 1 ? '' : 's'}`;
}

/** Up to five distinct holders of `leases`, for messages (a lease without one is 'unknown'). */
function holdersOf(leases: readonly { readonly holder?: string }[]): string[] {
  return [...new Set(leases.map((lease) => lease.holder ?? 'unknown'))].slice(0, 5);
}

/**
 * What the drain of a change asked for now would do with the tenant's `live` leases (the dry run's `drain`):
 * wait up to `drainTimeoutSeconds` for them, or, forced, revoke them.
 */
export function drainPreview(live: readonly { readonly holder?: string }[], drainTimeoutSeconds: number, force: boolean) {
  const leases = leasesInWords(live.length);
  let effect: string;
  if (live.length === 0) effect = 'No query lease is live now: the drain would not wait.';
  else if (force) effect = `The drain would not wait: the ${leases} would be revoked (their holders’ releases then answer 204) and the change would go on.`;
  else effect = `The drain would wait up to ${drainTimeoutSeconds} s for the ${leases} to be released or expire, and roll the change back if any is still live then; send "force": true not to wait.`;
  return { force, drainTimeoutSeconds, liveLeases: live.length, holders: holdersOf(live).sort(), effect };
}

/** What a Catch hands to `compensate`: the error name and its cause. */
export type { StepFailure };

/**
 * The workflow ports the steps use: all but the runner (the scheduler makes and cancels a period-end
 * downgrade's one-shot start).
 */
export type PlanChangeDependencies = Omit<WorkflowPorts, 'runner'>;

/** The step a scheduled change records when it starts: from then on it rolls back, it is never cancelled. */
export const PERIOD_END_REACHED = 'period_end_reached';

/** The one-shot schedule that starts a scheduled plan change; one per operation. */
export function planChangeScheduleName(operationId: string): string {
  return `plan-change-${operationId}`;
}

export const PLAN_CHANGE_STEPS = ['startReadOnlyWindow', 'drainQueries', 'provisionResources', 'updateBilling', 'commitPlan', 'compensate'] as const;
export type PlanChangeStep = (typeof PLAN_CHANGE_STEPS)[number];

const EVENTS = {
  upgrade: { complete: 'complete_upgrade', rollback: 'rollback_upgrade' },
  downgrade: { complete: 'complete_downgrade', rollback: 'rollback_downgrade' },
} as const satisfies Record<string, { complete: LifecycleEvent; rollback: LifecycleEvent }>;

export function billingRequest(input: PlanChangeInput): PlanChangeRequest {
  return {
    operationId: input.operationId,
    tenantId: input.tenantId,
    fromPlan: input.fromPlan,
    toPlan: input.toPlan,
    direction: input.direction,
    timing: input.timing,
    ...(input.account ? { account: input.account } : {}),
  };
}

/** The tenant, checked to still be owned by this operation. */
async function ownedTenant(deps: PlanChangeDependencies, input: PlanChangeInput) {
  const tenant = await deps.tenants.get(input.tenantId);
  if (tenant.operationId !== input.operationId) {
    throw new OperationSupersededError(`Tenant '${input.tenantId}' is '${tenant.state}' and no longer owned by operation '${input.operationId}'.`);
  }
  return tenant;
}

/**
 * What the tenant has now. A tenant no plan change has provisioned yet has its plan's default placement,
 * attributed to a 'baseline' operation, so the provisioner can be told to clean it up after a migration.
 */
function currentResources(tenant: { resources?: PlanResources }, input: PlanChangeInput): PlanResources {
  return tenant.resources ?? { ...resourcesFor(input.tenantId, input.fromPlan), provisionedBy: `baseline-${input.tenantId}` };
}

/**
 * Run `fast` (the step's conditional write on the carried facts, and nothing else: an error of the work after
 * it must not run the work twice) when facts are carried; when they turn out stale (a condition failed) or none
 * are, run `read` (the step's read-then-write path). Contention is thrown for the ASL to retry.
 */
async function withKnown<T>(known: KnownFacts | null | undefined, fast: (known: KnownFacts) => Promise<T>, read: () => Promise<T>): Promise<T> {
  if (known) {
    try {
      return await fast(known);
    } catch (error) {
      if (isStoreContention(error)) throw error;
    }
  }
  return read();
}

/** Why a plan change's read-only window is open: the tenant's access check and its history show it. */
export function readOnlyWindowReason(input: Pick<PlanChangeInput, 'fromPlan' | 'toPlan' | 'operationId'>): string {
  return `Plan change from ${input.fromPlan} to ${input.toPlan} in progress (operation ${input.operationId}): writes and new queries are paused until it completes.`;
}

/**
 * The read-only window opened with the initiate event (TransitionOptions.readOnlyWindow): what the operation item
 * created in that transaction records (the step's marker, and the drain's start at `at`), so that the first step has
 * nothing left to write; the execution starts knowing it (`known.drainStartedAt`).
 */
export function windowOpenedAtStart(at: Date): { readonly steps: readonly string[]; readonly facts: { readonly drainStartedAt: string } } {
  return { steps: ['read_only_window'], facts: { drainStartedAt: at.toISOString() } };
}

/**
 * Step 1: refuse new queries and writes from here on (the access check answers read_only). A change whose initiate
 * event opened the window (carried: the tenant owned by this operation with its window open, and the drain's start)
 * has nothing to do here.
 */
async function startReadOnlyWindow(deps: PlanChangeDependencies, input: PlanChangeInput): Promise<KnownFacts> {
  const readOnlyReason = readOnlyWindowReason(input);
  const context = { actor: input.requestedBy, reason: readOnlyReason, operationId: input.operationId, ...forcedContext(input) };
  const carried = input.known;
  if (carried?.drainStartedAt !== undefined && carried.tenant.operationId === input.operationId && carried.tenant.readOnlyReason !== undefined) return carried;
  // A period-end change (its execution carries nothing), or a redelivery: read, then open the window if it is not.
  return openReadOnlyWindow(deps, input, readOnlyReason, context);
}

async function openReadOnlyWindow(deps: PlanChangeDependencies, input: PlanChangeInput, readOnlyReason: string, context: { actor: string; reason: string; operationId: string }): Promise<KnownFacts> {
  let tenant: KnownTenant;
  for (let attempt = 0; ; attempt += 1) {
    tenant = await ownedTenant(deps, input);
    if (tenant.readOnlyReason) break;
    try {
      tenant = await deps.tenants.startReadOnlyWindow(tenant, readOnlyReason, context);
      break;
    } catch (error) {
      // A retry of this step raced it: read the tenant again (and find the window open).
      if (!(error instanceof VersionConflictError) || attempt >= 2) throw error;
    }
  }
  // A retried step keeps the first start time, so retries do not stretch the drain timeout.
  const operation = await deps.operations.get(input.operationId);
  const drainStartedAt = String(operation.facts.drainStartedAt ?? clock.nowOf(deps).toISOString());
  await deps.operations.recordStep(input.operationId, 'read_only_window', { drainStartedAt });
  return { tenant: knownTenant(tenant), drainStartedAt };
}

/**
 * Step 2: wait (through the ASL's retries) until no query lease is live, or give up at the drain timeout.
 * Writes nothing: `drained` is recorded with the next step's marker (the same information, one write less).
 * A forced change does not wait: it revokes the live leases (revokeLeases).
 */
async function drainQueries(deps: PlanChangeDependencies, input: PlanChangeInput): Promise<KnownFacts | null> {
  const live = await deps.leases.liveLeases(input.tenantId);
  if (input.force) return revokeLeases(deps, input, live);
  if (live.length === 0) return input.known ?? null;
  let drainStartedAt = input.known?.drainStartedAt;
  if (drainStartedAt === undefined) {
    const operation = await deps.operations.get(input.operationId);
    drainStartedAt = String(operation.facts.drainStartedAt ?? operation.createdAt);
  }
  const started = Date.parse(drainStartedAt);
  const waited = (clock.nowOf(deps).getTime() - started) / 1000;
  const holders = holdersOf(live).join(', ');
  if (waited >= input.drainTimeoutSeconds) {
    throw new DrainTimeoutError(
      `${live.length} in-flight ${live.length === 1 ? 'query still holds its lease' : 'queries still hold leases'} after the drain timeout of ${input.drainTimeoutSeconds} s (holders: ${holders}); the plan change was not started so no query is interrupted.`,
    );
  }
  throw new QueriesStillRunningError(`${live.length} in-flight queries (holders: ${holders}); waited ${waited.toFixed(1)} s of ${input.drainTimeoutSeconds} s.`);
}

/**
 * A forced change's drain: the leases recorded on the operation (`leases_revoked`, `facts.revokedLeases`), then
 * deleted with their slots of the cap. Their holders' queries are not stopped (the control plane cannot reach
 * them): they run on into the migration, as the operator chose; a holder's release afterwards answers 204 as for
 * any lease already gone, and the read-only window still refuses new leases until the commit.
 */
async function revokeLeases(deps: PlanChangeDependencies, input: PlanChangeInput, live: readonly { readonly leaseId: string; readonly holder?: string }[]): Promise<KnownFacts | null> {
  const revokedLeases: RevokedLease[] = live.map((lease) => ({ leaseId: lease.leaseId, holder: lease.holder ?? 'unknown' }));
  if (revokedLeases.length > 0) {
    await deps.operations.recordStep(input.operationId, 'leases_revoked', { revokedLeases });
    await Promise.all(revokedLeases.map((lease) => deps.leases.release(input.tenantId, lease.leaseId)));
  }
  return input.known ? { ...input.known, revokedLeases } : null;
}

/** What a forced change's commit entry says of its drain (the leases carried from it, when they were). */
export function forcedSummary(revoked: readonly RevokedLease[] | undefined): string {
  if (revoked === undefined) return 'forced';
  if (revoked.length === 0) return 'forced: no live query lease to revoke';
  return `forced: ${leasesInWords(revoked.length)} revoked, held by ${holdersOf(revoked).join(', ')}`;
}

/** The markers the provisioning step records before it provisions (`drained`: the drain step writes nothing). */
const PROVISIONING_STARTED = ['drained', 'provisioning_started'] as const;

/**
 * Step 3: bring up the new plan's resources before billing changes. `provisioning_started` is durable before
 * the provider is called, so a compensation releases whatever this may have made. The current placement is
 * the carried tenant's (nothing but this operation can change it while it runs).
 */
async function provisionResources(deps: PlanChangeDependencies, input: PlanChangeInput): Promise<KnownFacts> {
  const known = await withKnown(
    input.known,
    async (carried) => {
      await deps.operations.recordFirst(input.operationId, PROVISIONING_STARTED);
      return carried;
    },
    async () => {
      const tenant = await ownedTenant(deps, input);
      await deps.operations.recordStep(input.operationId, PROVISIONING_STARTED);
      return { ...input.known, tenant: knownTenant(tenant) };
    },
  );
  const current = currentResources(known.tenant, input);
  await deps.provisioner.provision(input.tenantId, input.operationId, { ...resourcesFor(input.tenantId, input.toPlan), provisionedBy: input.operationId }, current);
  // An immediate change bills next: its `billing_started` goes with `provisioned` (one write, not two). A
  // period-end change billed at scheduling; its billing step only reads what was recorded then.
  const billingNext = input.timing === 'immediately' && input.known !== undefined && input.known !== null;
  try {
    await deps.operations.recordStep(input.operationId, billingNext ? BILLING_STARTED_WITH_PROVISIONED : 'provisioned');
  } catch (error) {
    // Compensated while we were provisioning (a timeout): its release may have run before we finished. An
    // operation that succeeded (a retry of this step, after States.Timeout, went on to the commit) runs on them.
    if (error instanceof OperationEndedError && error.status !== 'succeeded') await deps.provisioner.release(input.tenantId, input.operationId);
    throw error;
  }
  return billingNext ? { ...known, billingStarted: true } : known;
}

/** The markers an immediate change's provisioning step records when it is done (provisionResources). */
const BILLING_STARTED_WITH_PROVISIONED = ['provisioned', 'billing_started'] as const;

/**
 * Step 4: change billing (idempotent on the operation id: a retry never charges twice). A change scheduled for
 * the period end arranged its billing when it was scheduled (a Stripe subscription schedule): nothing to do.
 */
async function updateBilling(deps: PlanChangeDependencies, input: PlanChangeInput): Promise<KnownFacts> {
  if (input.known?.billingStarted) {
    // `billing_started` is recorded (provisionResources): a retry calls billing again, which answers the change it
    // made (idempotent on the operation id), and records it again. Only while the operation runs: one the sweeper
    // or a timeout's compensation ended since provisioning (or since a failed attempt of this step) is not billed
    // at all, rather than charged and refunded (a compensation claiming it during the call is recordBillingChange's).
    const { status } = await deps.operations.get(input.operationId);
    if (status !== 'running') {
      // A retry of an attempt whose revert of a late change failed (billing unavailable): finish that revert, from
      // what billing reports (read back, never applied again); nothing when nothing was billed or it is reverted.
      if (status !== 'succeeded') {
        const late = await replayBillingOutcome(deps, input);
        if (late) await revertLateChange(deps, input, late);
      }
      throw new OperationEndedError(input.operationId, status);
    }
    await recordBillingChange(deps, input, await deps.billing.applyPlanChange(billingRequest(input)), 'running');
    return input.known;
  }
  // `billing_started`, durable before billing is called, written only while the operation runs (so it still
  // owns the tenant) and only once: a retry, or a period-end change that billed at scheduling, finds the marker
  // there and takes the read path.
  const carried = await withKnown(
    input.known,
    async (known) => {
      await deps.operations.recordFirst(input.operationId, 'billing_started');
      return known;
    },
    async () => undefined,
  );
  if (carried) {
    await recordBillingChange(deps, input, await deps.billing.applyPlanChange(billingRequest(input)), 'running');
    return carried;
  }
  const tenant = await ownedTenant(deps, input);
  if (!(await deps.operations.get(input.operationId)).steps.includes('billing_updated')) await applyBilling(deps, input, 'running');
  return { ...input.known, tenant: knownTenant(tenant) };
}

/**
 * Change billing for the operation, recorded around the call (`billing_started` before, so a compensation
 * reverts a change whose answer was lost; `billing_updated` with the change after). The workflow's step runs
 * it while the operation is `running`; a period-end change at scheduling, while it is `scheduled`.
 */
export async function applyBilling(deps: PlanChangeDependencies, input: PlanChangeInput, status: 'scheduled' | 'running'): Promise<BillingChange> {
  await deps.operations.recordStep(input.operationId, 'billing_started', {}, status);
  const change = await deps.billing.applyPlanChange(billingRequest(input));
  await recordBillingChange(deps, input, change, status);
  return change;
}

/**
 * `billing_updated` with the change: what a compensation reverts, without asking billing again. When the operation
 * ended while billing was called (a compensation, the sweeper, a cancellation claimed it: they may have found nothing
 * to revert yet), the change is reverted here before OperationEndedError is thrown, as a late provisioning releases
 * what it made: a change rolled back is never left billed.
 */
async function recordBillingChange(deps: PlanChangeDependencies, input: PlanChangeInput, change: BillingChange, status: 'scheduled' | 'running'): Promise<void> {
  try {
    await deps.operations.recordStep(input.operationId, 'billing_updated', { billingChange: change }, status);
  } catch (error) {
    if (error instanceof OperationEndedError && error.status !== 'succeeded') {
      await revertLateChange(deps, input, change);
    }
    throw error;
  }
}

/**
 * Revert a change billing made after the operation ended. A revert billing refuses for good (BillingRejectedError)
 * is noted on the operation for an operator (`facts.billingRevertFailed`, as the compensation notes its own) and
 * thrown; a transient failure is thrown for the ASL to retry the step (which reverts again, updateBilling).
 */
async function revertLateChange(deps: PlanChangeDependencies, input: PlanChangeInput, change: BillingChange): Promise<void> {
  try {
    await deps.billing.revertPlanChange(billingRequest(input), change);
  } catch (error) {
    if (error instanceof BillingRejectedError) {
      await deps.operations.noteFacts(input.operationId, { billingRevertFailed: `billing changed after the operation ended could not be reverted automatically and needs an operator: ${error.message}` });
    }
    throw error;
  }
}

/**
 * Step 5: the new plan, its resources, the end of the read-only window, complete_* and the operation's
 * `succeeded` in one transaction: the point of no return, and nothing can commit after a compensation began.
 */
async function commitPlan(deps: PlanChangeDependencies, input: PlanChangeInput): Promise<null> {
  const forced = input.force ? ` (${forcedSummary(input.known?.revokedLeases)})` : '';
  const context = { actor: input.requestedBy, reason: `Plan changed from ${input.fromPlan} to ${input.toPlan}${forced}`, operationId: input.operationId, ...forcedContext(input) };
  const changes = { plan: input.toPlan, resources: { ...resourcesFor(input.tenantId, input.toPlan), provisionedBy: input.operationId }, readOnlyReason: null };
  const previous = await withKnown(
    input.known,
    async (known) => {
      // The placement to release is recorded with the end (a compensation finding the operation succeeded
      // repeats its release), instead of a `committing` marker written before.
      const { provisionedBy } = currentResources(known.tenant, input);
      const finish = deps.operations.finishUpdate(input.operationId, 'succeeded', 'running', undefined, { previousProvisionedBy: provisionedBy });
      await deps.tenants.applyTransition(known.tenant, EVENTS[input.direction].complete, context, { changes, alsoUpdate: [finish] });
      return provisionedBy;
    },
    async () => {
      const tenant = await ownedTenant(deps, input);
      const { provisionedBy } = currentResources(tenant, input);
      await deps.operations.recordStep(input.operationId, 'committing', { previousProvisionedBy: provisionedBy });
      await deps.tenants.applyTransition(tenant, EVENTS[input.direction].complete, context, { changes, alsoUpdate: [deps.operations.finishUpdate(input.operationId, 'succeeded', 'running')] });
      return provisionedBy;
    },
  );
  await releasePrevious(deps, input, previous);
  return null;
}

/** The old placement is unused after the commit; releasing it is idempotent and may be repeated. */
async function releasePrevious(deps: PlanChangeDependencies, input: PlanChangeInput, previousProvisionedBy: unknown): Promise<void> {
  if (typeof previousProvisionedBy === 'string' && previousProvisionedBy !== input.operationId) {
    await deps.provisioner.release(input.tenantId, previousProvisionedBy);
  }
}

/**
 * What a tenant's history says of each failure that can end a plan change (the tenant reads its history:
 * what we wrote for people is kept, what a provider or the runtime said is not). Keyed by the error name a
 * step throws or the compensation is handed (States.Timeout and the execution status events, the sweeper,
 * a failed start, a cancellation); `Lambda.*` are Lambda's service errors.
 */
const READABLE_FAILURES: Readonly<Record<string, (message: string) => string>> = {
  DrainTimeoutError: (message) => message,
  QueriesStillRunningError: (message) => `queries were still running when the workflow stopped waiting: ${message}`,
  BillingRejectedError: (message) => `billing refused the change: ${message}`,
  BillingTransientError: () => 'the billing provider stayed unavailable through every retry; nobody was charged for the change',
  ProvisioningTransientError: () => "the new plan's resources could not be provisioned (the provider stayed unavailable through every retry)",
  StoreContentionError: () => 'the database stayed busy with other changes to the tenant through every retry',
  OperationSupersededError: () => 'another change took over the tenant while the plan change ran',
  OperationEndedError: () => 'the operation had already ended when a late step ran',
  SchedulerTransientError: () => 'the scheduler stayed unavailable, so the change could not be scheduled',
  ConfigurationError: () => 'the service is misconfigured for this change; an operator has to fix it',
  'States.Timeout': () => 'the workflow did not finish within its time limit',
  ExecutionAborted: () => 'the workflow was stopped before it finished',
  ExecutionFailed: () => 'the workflow failed before it could finish',
  OperationStuck: (message) => message,
  WorkflowStartFailed: () => 'the workflow could not be started',
  CancelledByRequest: (message) => message,
  USAGE_EXCEEDS_PLAN: (message) => message,
  TenantNotActive: (message) => message,
  ScheduledChangeMissing: (message) => message,
};

/**
 * The cause of a failure as a sentence the tenant's history can show: the message we wrote for known
 * failures, a description for a provider's or the runtime's, and for anything else its error name only
 * (an unexpected error's message and stack may hold internals; the operation record keeps them).
 */
export function readableFailure(failure: StepFailure | undefined): string {
  const { code, message } = describeFailure(failure);
  const describe = Object.hasOwn(READABLE_FAILURES, code) ? READABLE_FAILURES[code] : undefined;
  if (describe) return describe(message).replace(/\.$/, '');
  if (code.startsWith('Lambda.')) return `a step could not run (${code}, a service error of AWS Lambda) through every retry`;
  return `an unexpected error (${code}) stopped the change; the operator has the details`;
}

/**
 * The outcome of an apply whose answer was lost, read back from billing without changing anything (a replayed
 * apply could make the change now, only to undo it). A request billing refuses (no subscription, no price for
 * the plan) changed nothing, so there is nothing to revert.
 */
async function replayBillingOutcome(deps: PlanChangeDependencies, input: PlanChangeInput): Promise<BillingChange | undefined> {
  try {
    return await deps.billing.findAppliedChange(billingRequest(input));
  } catch (error) {
    if (error instanceof BillingRejectedError) return undefined;
    throw error;
  }
}

/**
 * Revert what the operation `operation` (as read) changed in billing, if it started to (its `billing_started`
 * step): the change it recorded, or the one billing reports for it. Answers notes for the operation's error: a
 * revert billing refuses for good (BillingRejectedError) is noted, not thrown, so it never keeps the tenant in a
 * state it should leave; anything else (transient) is thrown. Used by the compensation and by a soft delete that
 * ends a scheduled change (functions/deletion/soft-delete.ts).
 */
export async function revertOperationBilling(deps: PlanChangeDependencies, input: PlanChangeInput, operation: Pick<Operation, 'steps' | 'facts'>): Promise<string[]> {
  if (!operation.steps.includes('billing_started')) return [];
  try {
    const change = (operation.facts.billingChange as BillingChange | undefined) ?? (await replayBillingOutcome(deps, input));
    if (change) await deps.billing.revertPlanChange(billingRequest(input), change);
    return [];
  } catch (error) {
    if (!(error instanceof BillingRejectedError)) throw error;
    return [`billing could not be reverted automatically and needs an operator: ${error.message}`];
  }
}

/**
 * Undo what the operation did, in reverse: billing, resources, then the tenant back to active on its old
 * plan with the read-only window closed, and the operation `rolled_back`, in one transaction.
 * It first claims the operation (status `compensating`), so a step still running late is refused from then
 * on and the steps it reads are all there is to undo. Idempotent: a retried compensation claims again; an
 * operation that had committed is left as it is (only its old placement's release is repeated).
 */
async function compensate(
  deps: PlanChangeDependencies,
  input: PlanChangeInput,
  failure?: StepFailure,
  claim?: { readonly from: ReadonlyArray<'scheduled' | 'running' | 'compensating'>; readonly unlessStep?: string },
  by?: CancelledBy,
): Promise<CompensationResult> {
  const operation = await deps.operations.beginCompensation(input.operationId, claim?.from, { unlessStep: claim?.unlessStep });
  if (!operation) {
    const current = await deps.operations.get(input.operationId);
    if (current.status === 'succeeded') await releasePrevious(deps, input, current.facts.previousProvisionedBy);
    const ended = current.status === 'succeeded' || current.status === 'rolled_back' || current.status === 'cancelled';
    return { outcome: ended ? current.status : 'not_claimed' };
  }
  const cause = describeFailure(failure);
  const notes: string[] = [];

  if (operation.steps.includes('billing_started') && !operation.steps.includes('billing_reverted')) {
    notes.push(...(await revertOperationBilling(deps, input, operation)));
    await deps.operations.recordStep(input.operationId, 'billing_reverted', notes.length ? { billingRevertFailed: notes[0] } : {}, 'compensating');
  }
  if (operation.steps.includes('provisioning_started')) {
    await deps.provisioner.release(input.tenantId, input.operationId);
    await deps.operations.recordStep(input.operationId, 'resources_released', {}, 'compensating');
  }
  const error = { code: cause.code, message: [cause.message, ...notes].filter(Boolean).join('; ') };
  // A scheduled change that never started: the tenant never left `active`. Its schedule goes, the tenant
  // forgets it, and the operation ends `cancelled`, in one transaction.
  if (input.timing === 'period_end' && !operation.steps.includes(PERIOD_END_REACHED)) {
    await deps.scheduler.cancel(planChangeScheduleName(input.operationId));
    const cancelled = deps.operations.finishUpdate(input.operationId, 'cancelled', 'compensating', error);
    const context = {
      actor: by?.actor ?? input.requestedBy,
      reason: by?.reason ?? `Downgrade to ${input.toPlan} cancelled before it started: ${readableFailure(failure)}`,
      operationId: input.operationId,
      ...forcedContext(input),
    };
    for (let attempt = 0; ; attempt += 1) {
      const tenant = await deps.tenants.find(input.tenantId);
      try {
        if (tenant?.scheduledPlanChange?.operationId === input.operationId) {
          await deps.tenants.clearScheduledChange(tenant, input.operationId, context, { alsoUpdate: [cancelled] });
        } else {
          await deps.operations.finish(input.operationId, 'cancelled', 'compensating', error);
        }
        break;
      } catch (finishError) {
        // The tenant changed since it was read (suspended, say): read it again.
        if (finishError instanceof VersionConflictError && attempt < 3) continue;
        // A concurrent cancellation (a retried DELETE, the sweeper) finished it first: the same end.
        if ((await deps.operations.get(input.operationId)).status !== 'cancelled') throw finishError;
        break;
      }
    }
    return { outcome: 'cancelled' };
  }
  const finish = deps.operations.finishUpdate(input.operationId, 'rolled_back', 'compensating', error);
  const tenant = await deps.tenants.get(input.tenantId);
  if (tenant.operationId === input.operationId) {
    await deps.tenants.applyTransition(
      tenant,
      EVENTS[input.direction].rollback,
      // The tenant can read its history: the cause as readableFailure words it; the operation keeps the rest.
      { actor: input.requestedBy, reason: `Rolled back (${cause.code}): ${readableFailure(failure)}`, operationId: input.operationId, ...forcedContext(input) },
      { changes: { readOnlyReason: null }, alsoUpdate: [finish] },
    );
  } else {
    await deps.operations.finish(input.operationId, 'rolled_back', 'compensating', error);
  }
  return { outcome: 'rolled_back' };
}

/**
 * Undo a plan change that has not started yet (scheduled): the same undo as a compensation, but never claimed
 * from `running`, so a change whose period end has come and whose workflow runs is not cancelled under it
 * (outcome `not_claimed` then). A cancellation interrupted half-way (`compensating`) is taken up again.
 */
export async function cancelScheduledChange(deps: PlanChangeDependencies, input: PlanChangeInput, reason: StepFailure, by?: CancelledBy): Promise<CompensationResult> {
  return guardContention('cancel', () => compensate(deps, input, reason, { from: ['scheduled', 'compensating'], unlessStep: PERIOD_END_REACHED }, by));
}

/** Who cancelled a scheduled change and why, for its history entry (by default: its requester, and the cause). */
export interface CancelledBy {
  readonly actor: string;
  readonly reason?: string;
}

/** How a compensation ended (`not_claimed` only for a cancellation that found the change started). */
export type CompensationResult = { readonly outcome: 'rolled_back' | 'succeeded' | 'cancelled' | 'not_claimed' };

/**
 * What a step hands back to the state machine: a working step, what the execution knows now (the ASL puts it
 * at `$.operation.known`; null when the step learned nothing to carry); `compensate`, how it ended.
 */
export type StepResult = KnownFacts | null | CompensationResult;

/** The step dispatcher the Lambda task handler and the local runner both call. */
export async function runPlanChangeStep(
  deps: PlanChangeDependencies,
  step: PlanChangeStep,
  input: PlanChangeInput,
  failure?: StepFailure,
): Promise<StepResult> {
  return guardContention(step, () => dispatch(deps, step, input, failure));
}

async function dispatch(deps: PlanChangeDependencies, step: PlanChangeStep, input: PlanChangeInput, failure?: StepFailure): Promise<StepResult> {
  switch (step) {
    case 'startReadOnlyWindow':
      return startReadOnlyWindow(deps, input);
    case 'drainQueries':
      return drainQueries(deps, input);
    case 'provisionResources':
      return provisionResources(deps, input);
    case 'updateBilling':
      return updateBilling(deps, input);
    case 'commitPlan':
      return commitPlan(deps, input);
    case 'compensate':
      return compensate(deps, input, failure);
  }
}

export type { PlanResources };
