import * as z from 'zod';
import { PLAN_IDS } from '../plans/plan-catalog';
import { TENANT_ID_PATTERN } from '../tenants/tenant-schemas';

export const changePlanBodySchema = z
  .object({
    plan: z.enum(PLAN_IDS, { message: `must be one of ${PLAN_IDS.join(', ')}` }),
    /** Downgrades default to the end of the billing period; upgrades are always immediate. */
    effective: z.enum(['immediately', 'period_end'], { message: 'must be "immediately" or "period_end"' }).optional(),
    dryRun: z.boolean({ message: 'must be true or false' }).default(false),
    // At most 300 s (the longest lease), so drain plus provisioning stays inside the workflow's 900 s timeout.
    drainTimeoutSeconds: z.number().int('must be a whole number').min(1, 'must be at least 1').max(300, 'must be at most 300').default(30),
    reason: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional(),
  })
  .strict();
export type ChangePlanBody = z.infer<typeof changePlanBodySchema>;

export const operationPathSchema = z
  .object({ operationId: z.string().regex(/^op_[a-f0-9-]{36}$/, 'must be an operation id as returned by the API (op_...)') })
  .strict();

export { TENANT_ID_PATTERN };
