/**
 * What a tenant-scoped caller sees of its own tenant (issue 13): one projection per resource kind, applied by the
 * caller's role in one place (`visibleTo`). Operators see every record whole, as before.
 *
 * A tenant's admins see, in product terms, their plan and its limits, their state, when things happened and will
 * happen, the timeline of changes with a generic reason category, their own operations', exports' and
 * certificate's ids and outcomes. They do not see what belongs to the operator running the control plane:
 * operators' free-text reasons and notes, operator identities (token subjects, emails), Stripe object ids
 * (customer, subscription, item, event, invoice, schedule), internal error messages and workflow facts, or
 * infrastructure names (vector index names, schedule names). Each projection is an allow-list: a field added to
 * a record later stays hidden from tenants until it is added here.
 */
import type { DeletionCertificate } from '../deletion/deletion-certificate';
import type { ExportView } from '../export/export-request';
import type { Operation } from '../operations/operation-store';
import type { Principal } from '../auth/jwt-claims';
import { CHANGE_EVENTS, type AuditEntry } from './tenant-store';
import type { TenantView } from './tenant-service';

/**
 * Why a change happened, for a tenant: `billing` (a payment or subscription event: Stripe's, or the dunning
 * ladder's grace period), `compliance` (a missed deletion deadline recorded against the control plane), else
 * `account` (a change made on request: an operator's, the application's, or a workflow one of them started).
 */
export type ReasonCategory = 'billing' | 'compliance' | 'account';

const BILLING_EVENTS: ReadonlySet<string> = new Set([CHANGE_EVENTS.startGracePeriod, CHANGE_EVENTS.endGracePeriod]);

function reasonCategory(entry: AuditEntry): ReasonCategory {
  if (entry.stripeEventType !== undefined || entry.stripeEventId !== undefined || BILLING_EVENTS.has(entry.event)) return 'billing';
  if (entry.violation !== undefined || entry.event === CHANGE_EVENTS.complianceViolation) return 'compliance';
  return 'account';
}

/** `value`'s fields named in `keys` that are set (an absent field stays absent). */
function pick<T extends object, K extends keyof T>(value: T, keys: readonly K[]): Pick<T, K> {
  return Object.fromEntries(keys.filter((key) => value[key] !== undefined).map((key) => [key, value[key]])) as Pick<T, K>;
}

/**
 * The fields a tenant-scoped caller sees, per record and nested object: the one statement of the tenant's view
 * (the projections below and the OpenAPI document's TenantFacing* schemas are made from it).
 */
export const TENANT_FACING_FIELDS = {
  tenant: [
    'tenantId', 'name', 'email', 'plan', 'state', 'operationId', 'readOnlyReason', 'scheduledPlanChange', 'gdpr', 'deletedAt',
    'deletionCertificateId', 'usage', 'usageMeasuredAt', 'version', 'createdAt', 'updatedAt', 'stateChangedAt', 'allowedEvents',
  ],
  /** Its limits and request rate; not where its vectors are (index and namespace names) or which operation provisioned them. */
  resources: ['plan', 'limits', 'requestsPerSecond'],
  /** When its soft delete was asked and when the hard delete is due; not who asked, why, or the schedules' names. */
  deletion: ['requestedAt', 'retentionDays', 'deadline'],
  /** That a legal hold is set, and since when; not its reason or who placed it. */
  legalHold: ['since'],
  /** Its standing and dates; not the Stripe subscription or event. */
  dunning: ['standing', 'since', 'graceEndsAt', 'deleteAt', 'status'],
  /** What changed, when, between which states; not who (`actor`), why in words (`reason`) or the Stripe event. */
  auditEntry: ['tenantId', 'version', 'at', 'event', 'from', 'to', 'operationId', 'reactivationPath'],
  violation: ['kind', 'dueBy', 'detectedAt', 'latenessSeconds'],
  /** Its kind, status and times; not its input, facts (Stripe ids), steps or requester. The error's code only. */
  operation: ['operationId', 'tenantId', 'workflow', 'status', 'effectiveAt', 'createdAt', 'startedAt', 'updatedAt', 'finishedAt'],
  /** Who asked for the soft delete is left out; the legal holds keep their event and time only. */
  certificateDeletion: ['requestedAt', 'retentionDays', 'deadline'],
  certificateLegalHold: ['event', 'at'],
} as const satisfies {
  tenant: readonly (keyof TenantView)[];
  resources: readonly (keyof NonNullable<TenantView['resources']>)[];
  deletion: readonly (keyof NonNullable<TenantView['deletion']>)[];
  legalHold: readonly (keyof NonNullable<TenantView['legalHold']>)[];
  dunning: readonly (keyof NonNullable<TenantView['dunning']>)[];
  auditEntry: readonly (keyof AuditEntry)[];
  violation: readonly (keyof NonNullable<AuditEntry['violation']>)[];
  operation: readonly (keyof Operation)[];
  certificateDeletion: readonly (keyof DeletionCertificate['deletion'])[];
  certificateLegalHold: readonly (keyof DeletionCertificate['legalHolds'][number])[];
};

const FIELDS = TENANT_FACING_FIELDS;

/** GET /tenants/{id}: no Stripe ids, no operators' names or reasons, no index or schedule names. */
export function tenantFacingTenant(tenant: TenantView) {
  const { resources, deletion, legalHold, dunning } = tenant;
  return {
    ...pick(tenant, FIELDS.tenant),
    ...(resources ? { resources: pick(resources, FIELDS.resources) } : {}),
    ...(deletion ? { deletion: pick(deletion, FIELDS.deletion) } : {}),
    ...(legalHold ? { legalHold: pick(legalHold, FIELDS.legalHold) } : {}),
    ...(dunning ? { dunning: pick(dunning, FIELDS.dunning) } : {}),
  };
}

/** A history entry: what changed and when, with a reason category instead of the actor, reason and Stripe event. */
export function tenantFacingAuditEntry(entry: AuditEntry) {
  return {
    ...pick(entry, FIELDS.auditEntry),
    reasonCategory: reasonCategory(entry),
    ...(entry.violation ? { violation: pick(entry.violation, FIELDS.violation) } : {}),
  };
}

/** GET /operations/{id}: its kind, status and times; its error's code only; no input, facts, steps or requester. */
export function tenantFacingOperation(operation: Operation) {
  return {
    ...pick(operation, FIELDS.operation),
    ...(operation.error ? { error: { code: operation.error.code } } : {}),
  };
}

/** An export: everything but who asked (an operator's subject) and the error's internal message (its code kept). */
export function tenantFacingExport<T extends ExportView>(view: T) {
  const { requestedBy: _requestedBy, error, ...rest } = view;
  return { ...rest, ...(error ? { error: { code: error.code } } : {}) };
}

/**
 * The deletion certificate without the operators' names and legal holds' reasons. Its `sha256` is the hash of the
 * whole certificate (as operators read it), so a tenant cannot recompute it from this view; the operator can
 * hand over the full certificate to prove it.
 */
export function tenantFacingCertificate(certificate: DeletionCertificate) {
  return {
    ...certificate,
    deletion: pick(certificate.deletion, FIELDS.certificateDeletion),
    legalHolds: certificate.legalHolds.map((hold) => pick(hold, FIELDS.certificateLegalHold)),
  };
}

const TENANT_PROJECTIONS = {
  tenant: tenantFacingTenant,
  auditEntry: tenantFacingAuditEntry,
  operation: tenantFacingOperation,
  export: tenantFacingExport,
  deletionCertificate: tenantFacingCertificate,
} as const;

type Projections = typeof TENANT_PROJECTIONS;
type Projected<K extends keyof Projections> = Parameters<Projections[K]>[0];

/**
 * What `principal` may see of `value`, a record of `kind`: the whole record for an operator, its tenant-facing
 * projection (above) for a tenant-scoped caller. The read handlers answer with this and nothing else.
 */
export function visibleTo<K extends keyof Projections>(principal: Pick<Principal, 'role'>, kind: K, value: Projected<K>): Projected<K> | ReturnType<Projections[K]> {
  if (principal.role === 'operator') return value;
  return (TENANT_PROJECTIONS[kind] as (value: Projected<K>) => ReturnType<Projections[K]>)(value);
}
