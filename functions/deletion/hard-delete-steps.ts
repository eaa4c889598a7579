/**
 * The hard-delete workflow's Task steps: the work behind each state of statemachines/hard-delete.asl.json
 * (erasure at the end of retention, GDPR Art. 17). The ASL holds the order (begin, then per data source in
 * reverse registry order purge and verify, the billing customer, complete), the retries (ResidualDataError is
 * retried with backoff: eventual consistency) and the catch-all to `fail`; these functions hold the work. Each
 * is idempotent: what a step learned is recorded on the operation (`facts`), so a retried step re-does only
 * what is safe to repeat and the certificate is built from the record, not from the execution's state.
 *
 * Between states only ids and source names travel, never records.
 */
import * as clock from '../shared/clock';
import type { DataSource } from '../data-sources/data-source';
import { canTransition } from '../lifecycle/transition';
import { OperationEndedError, type Operation, type OperationStore } from '../operations/operation-store';
import type { BillingPort } from '../billing/billing-port';
import type { SchedulerPort } from '../scheduler/scheduler-port';
import { MetricUnit, logger, publishMetrics } from '../shared/powertools';
import { OperationOwnershipError, VersionConflictError } from '../tenants/errors';
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';
import { CHANGE_EVENTS, TOMBSTONE_FIELDS, type AuditEntry, type ComplianceViolation, type Tenant, type TenantStore } from '../tenants/tenant-store';
import { OperationSupersededError, guardContention } from '../workflows/errors';
import { describeFailure, type StepFailure } from '../workflows/step-failure';
import { certificateItem, sealCertificate, type CertificateLegalHold, type DeletionCertificate } from './deletion-certificate';
import { deletionAfterHoldRelease, windowPosition, type DeletionSchedule } from './deletion-policy';
import { cancelDeletionSchedules, rearmHardDelete } from './deletion-schedules';
import { ResidualDataError, certificateSources, purgeOrder, purgeSource, verifySource, type PurgeFact, type VerifyFact } from './source-purge';
import { HARD_DELETE_WORKFLOW, type HardDeleteInput } from './hard-delete-definition';

export const HARD_DELETE_STEPS = ['begin', 'purge', 'verify', 'deleteBillingCustomer', 'complete', 'fail'] as const;
export type HardDeleteStep = (typeof HARD_DELETE_STEPS)[number];

/** The metric an alarm watches (Count, 1 per hard delete that failed; dimension `workflow`). */
export const HARD_DELETE_FAILED_METRIC = HARD_DELETE_WORKFLOW.failureAlarm.metric;

/**
 * A legal hold is checked again this long after a firing it stopped (seconds: 7 days). Releasing the hold
 * re-arms the hard delete at once; this re-check is the safety net for a release whose re-arm was lost, without
 * a daily no-op firing for holds that last years.
 */
export const LEGAL_HOLD_RECHECK_SECONDS = 7 * 86_400;

export interface HardDeleteDependencies {
  readonly tenants: TenantStore;
  readonly operations: OperationStore;
  readonly scheduler: SchedulerPort;
  readonly billing: BillingPort;
  /** The data-source registry, in registry order (purged in reverse), made on first use. */
  readonly sources: () => Promise<readonly DataSource[]>;
  readonly now?: () => Date;
}

/** What a Task state hands its step. */
export type HardDeleteTaskEvent =
  | { readonly step: 'begin' | 'deleteBillingCustomer' | 'complete'; readonly operation: HardDeleteInput }
  | { readonly step: 'purge' | 'verify'; readonly operation: HardDeleteInput; readonly source: string }
  | { readonly step: 'fail'; readonly operation: HardDeleteInput; readonly failure?: StepFailure };

/** Begin's answer: whether the hard delete goes on, and the sources to purge in order (reverse registry order). */
export interface BeginResult {
  readonly proceed: boolean;
  readonly sources: readonly string[];
  /** Why it stopped, when it did. */
  readonly stopped?: 'not_deleting' | 'reactivated' | 'other_soft_delete' | 'owned_by_other' | 'window_not_open' | 'legal_hold';
}

/** A data source could not be reached for now (its key could not be read, its service failed): retried by the ASL. */
export class DataSourceUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DataSourceUnavailableError';
  }
}

/** The certificate cannot be written: a source of the registry has no recorded purge or verification. */
export class HardDeleteIncompleteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HardDeleteIncompleteError';
  }
}

const incompleteError = (message: string) => new HardDeleteIncompleteError(message);

export { ResidualDataError };

/** The tenant is soft-deleted and may be erased: the lifecycle table allows complete_deletion from its state. */
function awaitingErasure(tenant: Pick<Tenant, 'state'>): boolean {
  return canTransition(tenant.state, 'complete_deletion');
}


function actorOf(input: HardDeleteInput): string {
  return `hard-delete:${input.trigger}`;
}

/** Which component found a violation, by what started the run. */
function detectedBy(trigger: HardDeleteInput['trigger']): ComplianceViolation['detectedBy'] {
  return trigger === 'enforcement-check' || trigger === 'sweeper' ? trigger : 'hard-delete';
}

const BILLING_FACT = 'billingCustomer';


/** The operation, still running; OperationEndedError once it ended (a late step stops before doing anything). */
async function running(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<Operation> {
  const operation = await deps.operations.get(input.operationId);
  if (operation.status !== 'running') throw new OperationEndedError(input.operationId, operation.status);
  return operation;
}

/** The tenant, still claimed by this hard delete. */
async function owned(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<Tenant & { deletion: DeletionSchedule }> {
  const tenant = await deps.tenants.get(input.tenantId);
  if (tenant.operationId !== input.operationId || !awaitingErasure(tenant) || !tenant.deletion) {
    throw new OperationSupersededError(`Tenant '${input.tenantId}' is no longer claimed by hard delete ${input.operationId} (state ${tenant.state}, operation ${tenant.operationId ?? 'none'}).`);
  }
  return tenant as Tenant & { deletion: DeletionSchedule };
}

/** Stop without deleting: log why, and for a firing that came early or under a hold keep its record. */
async function stop(deps: HardDeleteDependencies, input: HardDeleteInput, stopped: NonNullable<BeginResult['stopped']>, message: string, record: boolean): Promise<BeginResult> {
  logger.info('Hard delete did not run', { stopped, reason: message, trigger: input.trigger, scheduledAt: input.scheduledAt });
  if (record) {
    await deps.operations.putFailed(
      { operationId: input.operationId, tenantId: input.tenantId, workflow: HARD_DELETE_WORKFLOW.name, input: { ...input }, requestedBy: actorOf(input), erasureRecord: true },
      { code: stopped.toUpperCase(), message },
      'cancelled',
    );
  }
  return { proceed: false, sources: [], stopped };
}

/** What takes a soft delete back (`deleting` → `reactivating`), and what ends that reactivation in `active`. */
const TAKE_BACK: LifecycleEvent = 'cancel_deletion';
const REACTIVATED: LifecycleEvent = 'complete_reactivation';
/** Audit entries read per page while looking for the reactivation that took a soft delete back. */
const TAKE_BACK_PAGE = 25;

/**
 * The audit entry of the reactivation that took back the soft delete of `input.deletionRequestedAt` and completed
 * (its `cancel_deletion`, followed by a `complete_reactivation` of the same operation: a reactivation that failed
 * returned the tenant to that soft delete), or undefined when none did (it was completed by a hard delete, or is
 * still the tenant's). Reads the audit trail newest first, down to the soft delete's request.
 */
async function reactivationOf(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<AuditEntry | undefined> {
  const since: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.tenants.history(input.tenantId, { limit: TAKE_BACK_PAGE, ...(cursor ? { cursor } : {}) });
    const newer = page.items.filter((entry) => entry.at >= input.deletionRequestedAt);
    since.push(...newer);
    cursor = newer.length === page.items.length ? (page.nextCursor ?? undefined) : undefined;
  } while (cursor);
  const chronological = since.reverse();
  return chronological.find((entry, at) => entry.event === TAKE_BACK && chronological.slice(at + 1).some((later) => later.event === REACTIVATED && later.operationId === entry.operationId));
}

/**
 * Decide whether this firing may delete, and if so claim the tenant. Nothing to do when the tenant is not
 * `deleting` (deleted already: a second firing; cancelled; gone) or is deleting under another soft delete, or
 * another hard delete holds it; when a reactivation took this firing's soft delete back (it is running, or it
 * completed, whatever the tenant did since), the firing's operation is recorded `cancelled` with code REACTIVATED
 * naming it (the loser of the race says so). Early: re-arm at the window's opening and stop. Legal hold: record it, re-check
 * in LEGAL_HOLD_RECHECK_SECONDS, stop (a hold is not a violation); a hold released meanwhile (read again after the
 * re-arm) makes it decide again. Late (not after a hold's release, which
 * moves the due time to the release): record a compliance violation, then go on. The claim
 * (`start_hard_delete`, operationId set on condition none is) is written with the operation in one transaction.
 */
async function begin(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<BeginResult> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await tryBegin(deps, input);
    } catch (error) {
      // The tenant changed between the read and the write (a cancel, a hold, another firing's claim): decide again.
      if (!(error instanceof VersionConflictError || error instanceof OperationOwnershipError) || attempt >= 3) throw error;
    }
  }
}

async function tryBegin(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<BeginResult> {
  const now = clock.nowOf(deps);
  const tenant = await deps.tenants.find(input.tenantId);
  if (tenant && tenant.deletion?.requestedAt === input.deletionRequestedAt && canTransition(tenant.state, 'complete_reactivation')) {
    // Lost the race to a reactivation of this soft delete: say so on the record (its operation ends `cancelled`).
    return stop(deps, input, 'reactivated', `Tenant '${input.tenantId}' is being reactivated by ${tenant.operationId ?? 'a reactivation'}, which won the race for its soft delete of ${input.deletionRequestedAt}: nothing deleted.`, true);
  }
  if (!tenant || !awaitingErasure(tenant) || !tenant.deletion || tenant.deletion.requestedAt !== input.deletionRequestedAt) {
    // A firing that came after its soft delete was taken back (a lost cancel of its schedule, a late delivery) says so.
    const reactivation = tenant ? await reactivationOf(deps, input) : undefined;
    if (reactivation) {
      return stop(deps, input, 'reactivated', `The soft delete of ${input.deletionRequestedAt} of tenant '${input.tenantId}' was taken back at ${reactivation.at} by ${reactivation.operationId ?? 'a reactivation'} (now '${tenant?.state}'): nothing deleted.`, true);
    }
    if (!tenant || !awaitingErasure(tenant) || !tenant.deletion) {
      return stop(deps, input, 'not_deleting', `Tenant '${input.tenantId}' is ${tenant ? `'${tenant.state}'` : 'gone'}: nothing to delete.`, false);
    }
    return stop(deps, input, 'other_soft_delete', `This firing belongs to the soft delete of ${input.deletionRequestedAt}; the tenant's is of ${tenant.deletion.requestedAt}.`, false);
  }
  const deletion = tenant.deletion;
  const sources = await purgeOrder(deps);
  if (tenant.operationId === input.operationId) return { proceed: true, sources }; // claimed by this run already (a retried begin)
  if (tenant.operationId) return stop(deps, input, 'owned_by_other', `Hard delete ${tenant.operationId} is running on the tenant.`, false);
  const position = windowPosition(deletion, now);
  if (position.position === 'early') {
    // Re-armed for the deadline itself, not the window's opening: the customer may cancel until the deadline,
    // and a hard delete that starts inside the window's first hour has already taken data (ERASURE_STARTED).
    await rearmHardDelete(deps.scheduler, tenant.tenantId, deletion, new Date(deletion.deadline));
    return stop(deps, input, 'window_not_open', `Fired at ${now.toISOString()}, before the window opens at ${deletion.window.opensAt}: re-armed for the deadline (${deletion.deadline}), nothing deleted.`, true);
  }
  if (tenant.legalHold) {
    const recheck = new Date(now.getTime() + LEGAL_HOLD_RECHECK_SECONDS * 1000);
    await rearmHardDelete(deps.scheduler, tenant.tenantId, deletion, recheck);
    // A release since the read re-armed the hard delete for a minute on, which the re-check just replaced (a week
    // on; the sweeper would then find it late, a violation): with the hold gone, decide again, and delete now.
    const after = await deps.tenants.find(tenant.tenantId);
    if (!after?.legalHold) {
      // Put the release's re-arm back first: should the retries run out (a hold placed and released again at each),
      // the hard delete stays due a minute on, not a week.
      if (after?.deletion?.requestedAt === deletion.requestedAt) await rearmHardDelete(deps.scheduler, tenant.tenantId, after.deletion, deletionAfterHoldRelease(after.deletion, now).hardDeleteAt);
      throw new VersionConflictError(tenant.tenantId, tenant.version, after?.version ?? tenant.version, after?.state ?? tenant.state, 'its legal hold was released');
    }
    // The hold as read again: a release and a new hold since the first read make the record name the new one.
    const hold = after.legalHold;
    return stop(deps, input, 'legal_hold', `Under legal hold since ${hold.since} (by ${hold.by}: ${hold.reason}); checked again at ${recheck.toISOString()} unless released first.`, true);
  }
  const context = { actor: actorOf(input), operationId: input.operationId };
  let current: Tenant = tenant;
  // One violation per soft delete: a retried begin, or the sweeper's next run after a failed one, finds it recorded.
  if (position.position === 'late' && input.trigger !== 'hold-released' && deletion.violationRecordedAt === undefined) {
    const violation: ComplianceViolation = {
      kind: 'hard_delete_late',
      dueBy: deletion.window.closesAt,
      detectedAt: now.toISOString(),
      latenessSeconds: position.latenessSeconds,
      detectedBy: detectedBy(input.trigger),
    };
    current = await deps.tenants.recordChange(current, CHANGE_EVENTS.complianceViolation, { ...context, reason: `Hard delete ran ${position.latenessSeconds} s after its window closed (${deletion.window.closesAt}).` }, {
      violation,
      set: { deletion: { ...deletion, violationRecordedAt: violation.detectedAt } },
    });
    logger.warn('Hard delete is late: compliance violation recorded', { violation });
  }
  await deps.tenants.recordChange(current, CHANGE_EVENTS.startHardDelete, { ...context, reason: `Hard delete (${input.trigger}) of the soft delete of ${deletion.requestedAt}.` }, {
    // The first claim is kept: a cancel is refused from then on, however this run ends (soft-delete.ts cancelDeletion).
    set: { operationId: input.operationId, ...(current.deletion?.erasureStarted ? {} : { deletion: { ...(current.deletion ?? deletion), erasureStarted: { at: now.toISOString(), operationId: input.operationId } } }) },
    condition: { expression: '#state = :state AND attribute_not_exists(operationId) AND deletion.requestedAt = :requestedAt', values: { ':state': current.state, ':requestedAt': deletion.requestedAt } },
    alsoPut: [deps.operations.newItem({ operationId: input.operationId, tenantId: input.tenantId, workflow: HARD_DELETE_WORKFLOW.name, input: { ...input }, requestedBy: actorOf(input), erasureRecord: true })],
  });
  return { proceed: true, sources };
}

/** Purge one source (source-purge.ts purgeSource), the tenant still claimed by this run. */
async function purge(deps: HardDeleteDependencies, input: HardDeleteInput, name: string): Promise<PurgeFact> {
  await owned(deps, input);
  return purgeSource(deps, await running(deps, input), name, incompleteError);
}

/** Verify one source is empty (what it retains by law aside); ResidualDataError while records remain. */
async function verify(deps: HardDeleteDependencies, input: HardDeleteInput, name: string): Promise<VerifyFact> {
  await owned(deps, input);
  return verifySource(deps, input, name, incompleteError);
}

/** Delete the billing customer (the provider keeps its invoices), once: keyed by the soft delete. */
async function deleteBillingCustomer(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<{ deleted: boolean; at: string }> {
  const tenant = await owned(deps, input);
  const operation = await running(deps, input);
  const done = operation.facts[BILLING_FACT] as { deleted: boolean; at: string } | undefined;
  if (done) return done;
  const { deleted } = await deps.billing.deleteCustomer({
    tenantId: tenant.tenantId,
    account: tenant.billing,
    plan: tenant.plan,
    idempotencyKey: `hard-delete:${tenant.tenantId}:${tenant.deletion.requestedAt}:delete-customer`,
  });
  const fact = { deleted, at: clock.nowOf(deps).toISOString() };
  await deps.operations.recordStep(input.operationId, 'billing_customer_deleted', { [BILLING_FACT]: fact });
  return fact;
}

/** The legal holds placed and released during the tenant's life, from its audit trail (oldest first). */
async function legalHoldsOf(deps: HardDeleteDependencies, tenantId: string): Promise<CertificateLegalHold[]> {
  const holds: CertificateLegalHold[] = [];
  let cursor: string | undefined;
  do {
    const page = await deps.tenants.history(tenantId, { limit: 100, ...(cursor ? { cursor } : {}) });
    for (const entry of page.items) {
      if (entry.event === CHANGE_EVENTS.placeLegalHold || entry.event === CHANGE_EVENTS.releaseLegalHold) {
        holds.push({ event: entry.event, at: entry.at, actor: entry.actor, ...(entry.reason ? { reason: entry.reason } : {}) });
      }
    }
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return holds.reverse();
}

/**
 * complete_deletion in one transaction with the tombstone (the tenant item keeps TOMBSTONE_FIELDS only), the
 * operation's end and the deletion certificate. HardDeleteIncompleteError when a source of the registry has no
 * recorded purge and verification (nothing claims success that was not checked). Then the soft delete's
 * schedules are deleted (best effort: a later firing finds the tenant deleted and does nothing).
 */
async function complete(deps: HardDeleteDependencies, input: HardDeleteInput): Promise<{ outcome: 'succeeded'; certificateId: string }> {
  const certificateId = `dc_${input.operationId}`;
  const found = await deps.tenants.find(input.tenantId);
  if (found?.deletionCertificateId === certificateId) return { outcome: 'succeeded', certificateId }; // a lost answer: deleted with this certificate
  const tenant = await owned(deps, input);
  const operation = await running(deps, input);
  const now = clock.nowOf(deps);
  const sources = await certificateSources(deps, operation, incompleteError);
  const billing = operation.facts[BILLING_FACT] as { deleted: boolean; at: string } | undefined;
  if (!billing) throw new HardDeleteIncompleteError('The billing customer has no recorded deletion: no certificate is written.');
  const deletion = tenant.deletion;
  const position = windowPosition(deletion, now);
  const certificate: DeletionCertificate = sealCertificate({
    certificateId,
    tenantId: tenant.tenantId,
    operationId: input.operationId,
    deletion: { requestedAt: deletion.requestedAt, requestedBy: deletion.requestedBy, retentionDays: deletion.retentionDays, deadline: deletion.deadline },
    window: deletion.window,
    trigger: { kind: input.trigger, scheduledAt: input.scheduledAt },
    startedAt: operation.startedAt ?? operation.createdAt,
    completedAt: now.toISOString(),
    timeliness: position.position === 'late' ? { onTime: false, latenessSeconds: position.latenessSeconds } : { onTime: true },
    sources,
    billingCustomer: billing,
    legalHolds: await legalHoldsOf(deps, tenant.tenantId),
    tombstoneFields: [...TOMBSTONE_FIELDS],
  });
  await deps.tenants.applyTransition(
    tenant,
    'complete_deletion',
    { actor: actorOf(input), operationId: input.operationId, reason: `Hard delete complete: every data source purged and verified; certificate ${certificateId} (sha256 ${certificate.sha256}).` },
    {
      changes: { tombstone: { deletedAt: certificate.completedAt, deletionCertificateId: certificateId } },
      alsoPut: [certificateItem(certificate)],
      alsoUpdate: [deps.operations.finishUpdate(input.operationId, 'succeeded', 'running', undefined, { certificateId })],
    },
  );
  try {
    await cancelDeletionSchedules(deps.scheduler, deletion);
  } catch (error) {
    logger.warn('Could not delete the deletion schedules after the hard delete (a later firing does nothing)', { error });
  }
  return { outcome: 'succeeded', certificateId };
}

/**
 * The catch-all (and the compensation): the hard delete failed. `fail_hard_delete` releases the claim with
 * the operation's end (`failed`, with the reason) in one transaction; the tenant stays `deleting` (the
 * enforcement check or the sweeper tries again); no certificate. Logs an error and counts HardDeleteFailed
 * (its alarm pages): once per failure, a repeated call is a no-op. Answers `succeeded` when the hard delete had
 * in fact completed (a lost answer of complete).
 */
export async function failHardDelete(
  deps: HardDeleteDependencies,
  input: HardDeleteInput,
  failure: StepFailure | undefined,
  options: { readonly compensation?: boolean } = {},
): Promise<{ outcome: 'failed' | 'succeeded' | 'cancelled' | 'rolled_back' }> {
  const error = describeFailure(failure, 'The hard delete failed without an error.');
  const operation = await deps.operations.find(input.operationId);
  // Failed before its claim: the Catch's own call counts it; a compensation after it has nothing to add.
  if (!operation && options.compensation) return { outcome: 'failed' };
  if (operation?.status === 'succeeded' || operation?.status === 'failed' || operation?.status === 'cancelled' || operation?.status === 'rolled_back') return { outcome: operation.status };
  if (operation) {
    for (let attempt = 1; ; attempt += 1) {
      const tenant = await deps.tenants.find(input.tenantId);
      const end = deps.operations.finishUpdate(input.operationId, 'failed', operation.status === 'compensating' ? 'compensating' : 'running', error);
      try {
        if (tenant?.operationId === input.operationId) {
          await deps.tenants.recordChange(tenant, CHANGE_EVENTS.failHardDelete, { actor: actorOf(input), operationId: input.operationId, reason: `Hard delete failed (${error.code}): ${error.message}` }, {
            remove: ['operationId'],
            condition: { expression: 'operationId = :operationId', values: { ':operationId': input.operationId } },
            alsoUpdate: [end],
          });
        } else {
          await deps.operations.finish(input.operationId, 'failed', operation.status === 'compensating' ? 'compensating' : 'running', error);
        }
        break;
      } catch (caught) {
        if (!(caught instanceof VersionConflictError) || attempt >= 3) throw caught;
      }
    }
  }
  logger.error('Hard delete failed: the tenant stays deleting, no certificate', { error, started: operation !== undefined });
  publishMetrics([{ workflow: HARD_DELETE_WORKFLOW.name }], [{ name: HARD_DELETE_FAILED_METRIC, unit: MetricUnit.Count, value: 1 }]);
  return { outcome: 'failed' };
}

/** The step dispatcher the task handler and the local runner both call. */
export async function runHardDeleteStep(deps: HardDeleteDependencies, event: HardDeleteTaskEvent): Promise<unknown> {
  return guardContention(event.step, () => dispatch(deps, event));
}

async function dispatch(deps: HardDeleteDependencies, event: HardDeleteTaskEvent): Promise<unknown> {
  switch (event.step) {
    case 'begin':
      return begin(deps, event.operation);
    case 'purge':
      return purge(deps, event.operation, event.source);
    case 'verify':
      return verify(deps, event.operation, event.source);
    case 'deleteBillingCustomer':
      return deleteBillingCustomer(deps, event.operation);
    case 'complete':
      return complete(deps, event.operation);
    case 'fail':
      return failHardDelete(deps, event.operation, event.failure);
  }
}
