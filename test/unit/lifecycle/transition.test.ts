import {
  IllegalTransitionError,
  LIFECYCLE_EVENTS,
  TENANT_STATES,
  allowedEvents,
  transition,
  type LifecycleEvent,
  type TenantState,
} from '../../../functions/lifecycle';

/**
 * DESIGN.md's table, written out independently of the implementation: [from, event, to]. 'origin' means
 * "the state it came from"; such rows are exercised once per possible origin below.
 */
const EXPECTED: ReadonlyArray<readonly [TenantState, LifecycleEvent, TenantState | 'origin']> = [
  ['active', 'initiate_upgrade', 'upgrading'],
  ['upgrading', 'complete_upgrade', 'active'],
  ['upgrading', 'rollback_upgrade', 'active'],
  ['active', 'initiate_downgrade', 'downgrading'],
  ['downgrading', 'complete_downgrade', 'active'],
  ['downgrading', 'rollback_downgrade', 'active'],
  ['active', 'suspend', 'suspended'],
  ['suspended', 'resume', 'reactivating'],
  ['active', 'initiate_export', 'exporting'],
  ['suspended', 'initiate_export', 'exporting'],
  ['exporting', 'complete_export', 'origin'],
  ['exporting', 'fail_export', 'origin'],
  ['active', 'initiate_deletion', 'deleting'],
  ['suspended', 'initiate_deletion', 'deleting'],
  ['deleting', 'cancel_deletion', 'reactivating'],
  ['deleting', 'complete_deletion', 'deleted'],
  ['deleted', 'reactivate_deleted', 'reactivating'],
  ['reactivating', 'complete_reactivation', 'active'],
  ['reactivating', 'fail_reactivation', 'origin'],
];

/** How a tenant can be in each state that records an origin. */
const ORIGINS: Partial<Record<TenantState, TenantState[]>> = {
  exporting: ['active', 'suspended'],
  reactivating: ['suspended', 'deleting', 'deleted'],
};

function snapshotsOf(state: TenantState) {
  return (ORIGINS[state] ?? [undefined]).map((origin) => ({ state, origin }));
}

describe('Function: transition', () => {
  const allPairs = TENANT_STATES.flatMap((state) => LIFECYCLE_EVENTS.map((event) => [state, event] as const));

  it('covers 8 states x 17 events', () => {
    expect(TENANT_STATES).toHaveLength(8);
    expect(LIFECYCLE_EVENTS).toHaveLength(17);
    expect(allPairs).toHaveLength(136);
  });

  describe.each(allPairs)('from %s on %s', (state, event) => {
    const rule = EXPECTED.find(([from, e]) => from === state && e === event);

    if (rule) {
      it.each(snapshotsOf(state))('moves to the table target (origin %#)', (snapshot) => {
        const next = transition(snapshot, event);
        const expected = rule[2] === 'origin' ? snapshot.origin : rule[2];
        expect(next.state).toBe(expected);
        if (next.state === 'exporting' || next.state === 'reactivating') expect(next.origin).toBe(state);
        else expect(next.origin).toBeUndefined();
      });
    } else {
      it.each(snapshotsOf(state))('is rejected with IllegalTransitionError listing the allowed events (origin %#)', (snapshot) => {
        let caught: unknown;
        try {
          transition(snapshot, event);
        } catch (error) {
          caught = error;
        }
        expect(caught).toBeInstanceOf(IllegalTransitionError);
        const error = caught as IllegalTransitionError;
        expect(error.state).toBe(state);
        expect(error.event).toBe(event);
        const expectedAllowed = EXPECTED.filter(([from]) => from === state).map(([, e]) => e);
        expect([...error.allowedEvents].sort()).toEqual([...new Set(expectedAllowed)].sort());
        expect(error.message).toContain(`'${event}' is not allowed while the tenant is '${state}'`);
      });
    }
  });

  it('returns an exporting tenant to suspended when it came from suspended', () => {
    const exporting = transition({ state: 'suspended' }, 'initiate_export');
    expect(transition(exporting, 'complete_export')).toEqual({ state: 'suspended' });
  });

  it('returns a failed reactivation of a soft-deleted tenant to deleting, not active', () => {
    const reactivating = transition({ state: 'deleting' }, 'cancel_deletion');
    expect(transition(reactivating, 'fail_reactivation')).toEqual({ state: 'deleting' });
  });

  it('refuses to guess the origin of an exporting tenant that lost it', () => {
    expect(() => transition({ state: 'exporting' }, 'complete_export')).toThrow('no recorded origin');
  });

  it('lists nothing allowed from no state that the table leaves', () => {
    for (const state of TENANT_STATES) expect(allowedEvents(state).length).toBeGreaterThan(0);
  });
});
