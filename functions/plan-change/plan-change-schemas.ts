import { z } from 'zod';
import { PLAN_IDS } from '../plans/plan-catalog';
import { TENANT_ID_PATTERN } from '../tenants/tenant-schemas';

export const changePlanBodySchema = z
  .object({
    plan: z.enum(PLAN_IDS, { message: `must be one of ${PLAN_IDS.join(', ')}` }),
    /** Downgrades default to the end of the billing period; upgrades are always immediate. */
    effective: z.enum(['immediately', 'period_end'], { message: 'must be "immediately" or "period_end"' }).optional(),
    dryRun: z.boolean({ message: 'must be true or false' }).default(false),
    drainTimeoutSeconds: z.number().int('must be a whole number').min(1, 'must be at least 1').max(600, 'must be at most 600').default(30),
    reason: z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional(),
  })
  .strict();
export type ChangePlanBody = z.infer<typeof changePlanBodySchema>;

export const operationPathSchema = z
  .object({ operationId: z.string().regex(/^op_[a-f0-9-]{36}$/, 'must be an operation id as returned by the API (op_...)') })
  .strict();

export { TENANT_ID_PATTERN };
