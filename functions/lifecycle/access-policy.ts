import { TENANT_STATES, type TenantState } from './lifecycle-table';

export const ACCESS_LEVELS = ['read_write', 'read_only', 'blocked'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

export interface AccessDecision {
  readonly access: AccessLevel;
  readonly reason: string;
}

/** What the access decision reads of a tenant. */
export interface AccessSubject {
  readonly state: TenantState;
  readonly origin?: TenantState;
  /** Set by a workflow for the length of a read-only window (plan migration). */
  readonly readOnlyReason?: string;
}

/**
 * What the application plane may do for this tenant right now. Pure.
 * Suspended tenants keep read access (they can still see and export their data: the usual dunning policy);
 * soft-deleted and deleted tenants are blocked; transitional states follow the state they came from.
 */
export function accessFor(tenant: AccessSubject): AccessDecision {
  if (tenant.readOnlyReason) return { access: 'read_only', reason: tenant.readOnlyReason };
  switch (tenant.state) {
    case 'active':
      return { access: 'read_write', reason: 'Tenant is active.' };
    case 'upgrading':
    case 'downgrading':
      return { access: 'read_write', reason: `Plan change in progress (${tenant.state}); the tenant keeps full access until its read-only window.` };
    case 'suspended':
      return { access: 'read_only', reason: 'Tenant is suspended: reads and exports are allowed, writes are blocked until it is resumed.' };
    case 'exporting':
    case 'reactivating': {
      const origin = tenant.origin ?? 'deleted';
      const base = accessFor({ state: origin });
      return { access: base.access, reason: `Tenant is ${tenant.state} (from ${origin}): ${base.reason}` };
    }
    case 'deleting':
      return { access: 'blocked', reason: 'Tenant is soft-deleted: access is blocked while its data is retained until the hard delete.' };
    case 'deleted':
      return { access: 'blocked', reason: 'Tenant is deleted: its data is gone; only the tombstone and audit trail remain.' };
  }
}

/** When accessFor answers `blocked` for a state: always, or only with some origins (`null`: no origin recorded). */
export interface BlockedWhen {
  readonly state: TenantState;
  /** Blocked whatever the origin. */
  readonly always: boolean;
  /** Otherwise the origins that block it. */
  readonly origins: ReadonlyArray<TenantState | null>;
}

/**
 * accessFor's `blocked` answers, state by state, for checks that cannot call it (a DynamoDB condition
 * expression, evaluated by the database against the item as it is when the write lands). Derived from
 * accessFor itself (every state with every possible origin), so the two never disagree. States never blocked
 * are left out. A read-only window (`readOnlyReason`) is not a block and is left to the caller.
 */
export function blockedWhen(): readonly BlockedWhen[] {
  const origins: ReadonlyArray<TenantState | null> = [null, ...TENANT_STATES];
  return TENANT_STATES.flatMap((state) => {
    const blocking = origins.filter((origin) => accessFor({ state, ...(origin === null ? {} : { origin }) }).access === 'blocked');
    if (blocking.length === 0) return [];
    return [{ state, always: blocking.length === origins.length, origins: blocking.length === origins.length ? [] : blocking }];
  });
}

/**
 * accessFor's `blocked` as a DynamoDB condition on the tenant item (`#state`, and `#origin` where the origin
 * decides): true when the tenant as stored is not blocked. From blockedWhen(), so the two never disagree. Used
 * by writes the database must refuse for a blocked tenant as it is when they land (query leases, usage reports).
 */
export function notBlockedCondition(): { expression: string; names: Record<string, string>; values: Record<string, string> } {
  const names: Record<string, string> = { '#state': 'state' };
  const values: Record<string, string> = {};
  const clauses: string[] = [];
  blockedWhen().forEach(({ state, always, origins }, i) => {
    values[`:blocked${i}`] = state;
    if (always) {
      clauses.push(`#state <> :blocked${i}`);
      return;
    }
    names['#origin'] = 'origin';
    const byOrigin = origins.map((origin, j) => {
      if (origin === null) return 'attribute_not_exists(#origin)';
      values[`:blocked${i}_${j}`] = origin;
      return `#origin = :blocked${i}_${j}`;
    });
    clauses.push(`NOT (#state = :blocked${i} AND (${byOrigin.join(' OR ')}))`);
  });
  return { expression: clauses.join(' AND '), names, values };
}
