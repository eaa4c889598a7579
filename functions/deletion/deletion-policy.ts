/**
 * The deletion policy: how long a soft-deleted tenant's data is retained, when its hard delete is due, the
 * enforcement window around that deadline, and the deterministic names of its two one-shot schedules. Pure (no
 * I/O): the API, the hard-delete workflow, the enforcement check and the sweeper all ask it, so they agree.
 *
 * Times are ISO 8601 strings in UTC, durations seconds unless the name says days.
 */
import { createHash } from 'node:crypto';
import { soonestFiring } from '../scheduler/firing-times';
import { registerHttpError } from '../shared/error-catalogue';

/** Retention bounds of a soft delete (days): the customer's chance to come back, and the operator's promise. */
export const MIN_RETENTION_DAYS = 30;
export const MAX_RETENTION_DAYS = 90;
export const DEFAULT_RETENTION_DAYS = 30;
/**
 * A tenant flagged GDPR is erased within one month at most: personal data no longer needed is erased "without
 * undue delay" (GDPR Art. 17(1)(a)), and the month is the answer period of Art. 12(3).
 */
export const GDPR_MAX_RETENTION_DAYS = 30;
/**
 * The enforcement tolerance (seconds): the hard delete may run from deadline − tolerance to deadline + tolerance
 * (EventBridge Scheduler delivers within a minute of the time; retries take a while).
 */
export const DEFAULT_ENFORCEMENT_TOLERANCE_SECONDS = 60 * 60;

const DAY_SECONDS = 86_400;

/** What the tenant item records of a soft delete (`Tenant.deletion`), written by `initiate_deletion`. */
export interface DeletionSchedule {
  /** When the soft delete was requested. */
  readonly requestedAt: string;
  /** Who asked (the token subject). */
  readonly requestedBy: string;
  readonly reason?: string;
  /** Days between the request and the deadline (30–90). */
  readonly retentionDays: number;
  /** When the hard delete is due: requestedAt + retentionDays. */
  readonly deadline: string;
  /** When the hard delete may run: deadline ± the enforcement tolerance. Before it: early; after it: late (a violation). */
  readonly window: { readonly opensAt: string; readonly closesAt: string };
  /** The names of the two one-shot schedules (deletionScheduleNames). */
  readonly schedules: { readonly hardDelete: string; readonly enforcement: string };
  /**
   * When this soft delete's missed window was recorded as a compliance violation: one violation per soft delete,
   * however many late runs (the sweeper restarts a failing hard delete every pass) it takes to finish.
   */
  readonly violationRecordedAt?: string;
  /**
   * When a hard delete first claimed this soft delete, and which: from then on data may be gone (a hard delete may
   * run from the window's opening, an hour before the deadline, and fail half-way), so it can no longer be cancelled.
   */
  readonly erasureStarted?: { readonly at: string; readonly operationId: string };
}

/** A legal hold (`Tenant.legalHold`): while it is set, the hard delete does not run. */
export interface LegalHold {
  readonly reason: string;
  /** Who placed it (the token subject, or the `by` given). */
  readonly by: string;
  readonly since: string;
}

/** Why a retention asked for cannot be used; the API answers 400 with this message. */
export class RetentionPolicyError extends Error {
  readonly code = 'INVALID_RETENTION' as const;
  constructor(message: string) {
    super(message);
    this.name = 'RetentionPolicyError';
  }
}

registerHttpError(RetentionPolicyError, { status: 400 });

/**
 * The retention (days) a soft delete gets: `requested` or DEFAULT_RETENTION_DAYS; a whole number in
 * [MIN_RETENTION_DAYS, MAX_RETENTION_DAYS], and at most GDPR_MAX_RETENTION_DAYS for a GDPR tenant.
 * Throws RetentionPolicyError saying which bound was crossed.
 */
export function retentionDaysFor(requested: number | undefined, tenant: { readonly gdpr?: boolean }): number {
  const days = requested ?? DEFAULT_RETENTION_DAYS;
  if (!Number.isInteger(days) || days < MIN_RETENTION_DAYS || days > MAX_RETENTION_DAYS) {
    throw new RetentionPolicyError(`retentionDays must be a whole number of days from ${MIN_RETENTION_DAYS} to ${MAX_RETENTION_DAYS}; got ${String(requested)}.`);
  }
  if (tenant.gdpr && days > GDPR_MAX_RETENTION_DAYS) {
    // Name what may be sent: the GDPR cap is also the floor today, so "30 or fewer" would invite a 29 that is refused.
    const allowed = MIN_RETENTION_DAYS === GDPR_MAX_RETENTION_DAYS ? `${GDPR_MAX_RETENTION_DAYS} days` : `${MIN_RETENTION_DAYS} to ${GDPR_MAX_RETENTION_DAYS} days`;
    const orDefault = DEFAULT_RETENTION_DAYS <= GDPR_MAX_RETENTION_DAYS ? `, or leave retentionDays out (the default, ${DEFAULT_RETENTION_DAYS} days)` : '';
    throw new RetentionPolicyError(
      `This tenant is flagged GDPR: its data must be erased within ${GDPR_MAX_RETENTION_DAYS} days of the request (GDPR Art. 17(1), Art. 12(3)); ask for ${allowed}${orDefault} (got ${days}).`,
    );
  }
  return days;
}

/** EventBridge Scheduler's name limit (1–64 of letters, digits, `-`, `_`, `.`). */
const SCHEDULE_NAME_MAX = 64;

/** `<prefix>-<tenantId>`, or with the id cut and a hash of it appended when that would exceed 64 characters. */
export function scheduleName(prefix: string, tenantId: string): string {
  const plain = `${prefix}-${tenantId}`;
  if (plain.length <= SCHEDULE_NAME_MAX) return plain;
  const hash = createHash('sha256').update(tenantId).digest('hex').slice(0, 12);
  return `${prefix}-${tenantId.slice(0, SCHEDULE_NAME_MAX - prefix.length - hash.length - 2)}-${hash}`;
}

/** The deterministic names of a tenant's two deletion schedules: asking twice makes (or replaces) the same ones. */
export function deletionScheduleNames(tenantId: string): DeletionSchedule['schedules'] {
  return { hardDelete: scheduleName('hard-delete', tenantId), enforcement: scheduleName('deletion-check', tenantId) };
}

/**
 * The soft delete's record for a request made at `requestedAt` with `retentionDays` (from retentionDaysFor).
 * `requestedAt` keeps its milliseconds: it is the soft delete's identity (its billing idempotency keys, the hard
 * delete's firings), and a soft delete cancelled and made again within one second is another one. The deadline is
 * rounded up to the second (one-time schedules' `at(...)` has no finer precision), so it is never early.
 */
export function deletionSchedule(input: {
  readonly tenantId: string;
  readonly requestedAt: Date;
  readonly requestedBy: string;
  readonly reason?: string;
  readonly retentionDays: number;
  readonly toleranceSeconds?: number;
}): DeletionSchedule {
  const tolerance = (input.toleranceSeconds ?? DEFAULT_ENFORCEMENT_TOLERANCE_SECONDS) * 1000;
  const requestedAt = input.requestedAt;
  const deadline = new Date(Math.ceil((requestedAt.getTime() + input.retentionDays * DAY_SECONDS * 1000) / 1000) * 1000);
  return {
    requestedAt: requestedAt.toISOString(),
    requestedBy: input.requestedBy,
    ...(input.reason === undefined ? {} : { reason: input.reason }),
    retentionDays: input.retentionDays,
    deadline: deadline.toISOString(),
    window: { opensAt: new Date(deadline.getTime() - tolerance).toISOString(), closesAt: new Date(deadline.getTime() + tolerance).toISOString() },
    schedules: deletionScheduleNames(input.tenantId),
  };
}

/**
 * Where `now` falls against the enforcement window: `early` (before it opens: the hard delete must not run),
 * `due` (inside it), `late` (after it closes: it runs anyway, and the lateness, seconds after `closesAt`, is a
 * compliance violation).
 */
export type WindowPosition = { readonly position: 'early'; readonly opensInSeconds: number } | { readonly position: 'due' } | { readonly position: 'late'; readonly latenessSeconds: number };

export function windowPosition(deletion: Pick<DeletionSchedule, 'window'>, now: Date): WindowPosition {
  const opens = Date.parse(deletion.window.opensAt);
  const closes = Date.parse(deletion.window.closesAt);
  const at = now.getTime();
  if (at < opens) return { position: 'early', opensInSeconds: Math.ceil((opens - at) / 1000) };
  if (at > closes) return { position: 'late', latenessSeconds: Math.floor((at - closes) / 1000) };
  return { position: 'due' };
}

/** When the enforcement check fires: just after the window closes (the latest allowed time). */
export function enforcementCheckAt(deletion: Pick<DeletionSchedule, 'window'>): Date {
  return new Date(Date.parse(deletion.window.closesAt) + 60_000);
}

/** Whether the soft delete can still be cancelled at `now`: only before the deadline (the retention period). */
export function withinRetention(deletion: Pick<DeletionSchedule, 'deadline'>, now: Date): boolean {
  return now.getTime() < Date.parse(deletion.deadline);
}

/**
 * The soft delete after its legal hold is released at `now`, and when its hard delete runs: at the deadline when
 * that is still to come (the record unchanged); else as soon as a schedule can fire (scheduler-port.ts
 * soonestFiring: a minute on, the same on EventBridge Scheduler and locally), with the enforcement window moved to
 * that time ± the tolerance the record was made with (half the window's width, however often it moved), since a deletion that waited for a hold is not late (a hold
 * is not a violation). The deadline itself stays: it is what was promised, and the certificate shows both.
 */
export function deletionAfterHoldRelease(deletion: DeletionSchedule, now: Date): { readonly deletion: DeletionSchedule; readonly hardDeleteAt: Date } {
  const deadline = new Date(deletion.deadline);
  if (now.getTime() <= deadline.getTime()) return { deletion, hardDeleteAt: deadline };
  // Half the window's width: the tolerance it was made with, also once a release has moved it off the deadline
  // (closesAt minus the deadline would then count the time since the deadline as tolerance, at a second release).
  const tolerance = (Date.parse(deletion.window.closesAt) - Date.parse(deletion.window.opensAt)) / 2;
  const at = soonestFiring(now);
  return {
    deletion: { ...deletion, window: { opensAt: new Date(at.getTime() - tolerance).toISOString(), closesAt: new Date(at.getTime() + tolerance).toISOString() } },
    hardDeleteAt: at,
  };
}
