import * as z from 'zod';
import { PLAN_IDS } from '../plans/plan-catalog';
import { LEASE_TTL_SECONDS } from '../leases/lease-schemas';
import { wholeNumber } from '../shared/schemas';
import { TENANT_ID_PATTERN, reasonSchema } from '../tenants/tenant-schemas';

export const changePlanBodySchema = z
  .object({
    plan: z.enum(PLAN_IDS),
    /** Downgrades default to the end of the billing period; upgrades are always immediate. */
    effective: z.enum(['immediately', 'period_end']).optional(),
    dryRun: z.boolean({ message: 'must be true or false' }).default(false),
    // At most the longest lease a caller may take (300 s), so the drain can always outwait one, and drain plus
    // provisioning stays inside the workflow's 900 s timeout.
    drainTimeoutSeconds: wholeNumber(1, LEASE_TTL_SECONDS.max, 'seconds').default(30),
    /**
     * The operator's override of the drain: do not wait for live query leases, revoke them (their holders'
     * releases then answer 204) and go on. Recorded as `forced: true` on the change's history entries.
     */
    force: z
      .boolean({ message: 'must be true or false' })
      .default(false)
      .meta({ description: 'Do not wait for live query leases: revoke them and go on (their holders\' releases answer 204). Recorded as `forced: true` in the history. Default false.' }),
    reason: reasonSchema,
  })
  .strict();
export type ChangePlanBody = z.infer<typeof changePlanBodySchema>;
/** A plan change as callers in code ask for it: `force` may be left out (false). */
export type PlanChangeRequestBody = Omit<ChangePlanBody, 'force'> & { readonly force?: boolean };

export { operationPathSchema } from '../operations/operation-schemas';

export { TENANT_ID_PATTERN };
