/**
 * The tenant lifecycle: the eight states and the one table of legal transitions (DESIGN.md, "The lifecycle").
 * This file is data only; `transition.ts` is the one function that reads it.
 */

export const TENANT_STATES = [
  'active',
  'upgrading',
  'downgrading',
  'suspended',
  'exporting',
  'deleting',
  'deleted',
  'reactivating',
] as const;
export type TenantState = (typeof TENANT_STATES)[number];

/** The state a new tenant starts in (its `create` entry in the history goes from nothing to it). */
export const INITIAL_STATE = 'active' as const satisfies TenantState;

/** States owned by exactly one running operation; each must end by completion or rollback. */
export const TRANSITIONAL_STATES = ['upgrading', 'downgrading', 'exporting', 'reactivating'] as const;
export type TransitionalState = (typeof TRANSITIONAL_STATES)[number];

/** Marks a target that is "the state it came from", recorded as the tenant's origin on the way in. */
export const ORIGIN = 'origin' as const;
type Target = TenantState | typeof ORIGIN;

interface Rule {
  readonly from: readonly TenantState[];
  readonly to: Target;
}

export const LIFECYCLE_TABLE = {
  initiate_upgrade: { from: ['active'], to: 'upgrading' },
  complete_upgrade: { from: ['upgrading'], to: 'active' },
  rollback_upgrade: { from: ['upgrading'], to: 'active' },
  initiate_downgrade: { from: ['active'], to: 'downgrading' },
  complete_downgrade: { from: ['downgrading'], to: 'active' },
  rollback_downgrade: { from: ['downgrading'], to: 'active' },
  suspend: { from: ['active'], to: 'suspended' },
  resume: { from: ['suspended'], to: 'reactivating' },
  initiate_export: { from: ['active', 'suspended'], to: 'exporting' },
  complete_export: { from: ['exporting'], to: ORIGIN },
  fail_export: { from: ['exporting'], to: ORIGIN },
  initiate_deletion: { from: ['active', 'suspended'], to: 'deleting' },
  cancel_deletion: { from: ['deleting'], to: 'reactivating' },
  complete_deletion: { from: ['deleting'], to: 'deleted' },
  reactivate_deleted: { from: ['deleted'], to: 'reactivating' },
  complete_reactivation: { from: ['reactivating'], to: 'active' },
  fail_reactivation: { from: ['reactivating'], to: ORIGIN },
} as const satisfies Record<string, Rule>;

export type LifecycleEvent = keyof typeof LIFECYCLE_TABLE;
export const LIFECYCLE_EVENTS = Object.keys(LIFECYCLE_TABLE) as LifecycleEvent[];

/** States whose exits include "back to where it came from", so entering them records the origin. */
export const ORIGIN_TRACKING_STATES: readonly TenantState[] = ['exporting', 'reactivating'];

export function isTransitional(state: TenantState): state is TransitionalState {
  return (TRANSITIONAL_STATES as readonly string[]).includes(state);
}
