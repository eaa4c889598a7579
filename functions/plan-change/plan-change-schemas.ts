import * as z from 'zod';
import { PLAN_IDS } from '../plans/plan-catalog';
import { wholeNumber } from '../shared/schemas';
import { TENANT_ID_PATTERN, reasonSchema } from '../tenants/tenant-schemas';

export const changePlanBodySchema = z
  .object({
    plan: z.enum(PLAN_IDS),
    /** Downgrades default to the end of the billing period; upgrades are always immediate. */
    effective: z.enum(['immediately', 'period_end']).optional(),
    dryRun: z.boolean({ message: 'must be true or false' }).default(false),
    // At most 300 s (the longest lease), so drain plus provisioning stays inside the workflow's 900 s timeout.
    drainTimeoutSeconds: wholeNumber(1, 300, 'seconds').default(30),
    reason: reasonSchema,
  })
  .strict();
export type ChangePlanBody = z.infer<typeof changePlanBodySchema>;

export { operationPathSchema } from '../operations/operation-schemas';

export { TENANT_ID_PATTERN };
