/** Request schema of POST /tenants/{tenantId}/reactivate (strict, like every route's: an unknown field is 400). */
import * as z from 'zod';
import { PLAN_IDS } from '../plans/plan-catalog';
import { reasonSchema, tenantEmailSchema, tenantNameSchema } from '../tenants/tenant-schemas';

export const reactivateBodySchema = z
  .object({
    /** The plan to come back on; default the one it had (required for a deleted tenant: its plan was erased). */
    plan: z.enum(PLAN_IDS).optional(),
    /** true (default): with its data (suspended, soft-deleted); false: a fresh start with none of it (soft-deleted, deleted). */
    restoreData: z.boolean({ message: 'must be true or false' }).optional(),
    /** A deleted tenant's new contact details (its old ones were erased); refused for any other tenant. */
    name: tenantNameSchema.optional(),
    email: tenantEmailSchema.optional(),
    reason: reasonSchema,
  })
  .strict();
export type ReactivateBody = z.infer<typeof reactivateBodySchema>;
