/**
 * What a 409 ILLEGAL_TRANSITION tells the caller to do next: the events the API would accept for the tenant now,
 * or, when there are none (a tenant held by a workflow: only its steps move it), that nothing is allowed, never an empty list.
 */
import { IllegalTransitionError } from '../../../functions/lifecycle/errors';
import { refusalOf } from '../../../functions/tenants/tenant-rules';
import { EMPTY_USAGE } from '../../../functions/plans/plan-catalog';

describe('IllegalTransitionError message', () => {
  it('should say that no event is allowed when the API accepts none from the tenant state', () => {
    const refusal = refusalOf({ tenantId: 'moving-corp', state: 'upgrading', plan: 'starter', usage: EMPTY_USAGE }, 'suspend');

    expect(refusal).toBeInstanceOf(IllegalTransitionError);
    expect(refusal).toMatchObject({ state: 'upgrading', event: 'suspend', allowedEvents: [] });
    expect(refusal?.message).toBe("Event 'suspend' is not allowed while the tenant is 'upgrading'. No event is allowed from 'upgrading'.");
  });

  it('should offer a deleted tenant its reactivation (POST /tenants/{id}/reactivate)', () => {
    const refusal = refusalOf({ tenantId: 'gone-corp', state: 'deleted', plan: 'starter', usage: EMPTY_USAGE }, 'suspend');

    expect(refusal?.message).toBe("Event 'suspend' is not allowed while the tenant is 'deleted'. Allowed from 'deleted': reactivate_deleted.");
  });

  it('should list the events the API accepts now otherwise', () => {
    const refusal = refusalOf({ tenantId: 'paused-corp', state: 'suspended', plan: 'starter', usage: EMPTY_USAGE }, 'suspend');

    expect(refusal?.message).toBe("Event 'suspend' is not allowed while the tenant is 'suspended'. Allowed from 'suspended': resume, initiate_export, initiate_deletion.");
  });
});
