/** Request schemas for the tenant routes; types are inferred from them, never written twice. */
import * as z from 'zod';
import { TENANT_STATES } from '../lifecycle/lifecycle-table';
import { PLAN_IDS } from '../plans/plan-catalog';

export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/;

export const tenantIdSchema = z
  .string()
  .regex(TENANT_ID_PATTERN, 'must be 3 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit');

export const tenantPathSchema = z.object({ tenantId: tenantIdSchema }).strict();

const count = z.number().int('must be a whole number').nonnegative('must be 0 or more');

export const usageSchema = z
  .object({
    queriesPerMonth: count.default(0),
    storageGb: z.number().nonnegative('must be 0 or more').default(0),
    documents: count.default(0),
    users: count.default(0),
  })
  .strict();

/** A usage report of the application plane: every metric, measured at a time (default: when received). */
export const reportUsageBodySchema = z
  .object({
    usage: z
      .object({
        queriesPerMonth: count,
        storageGb: z.number().nonnegative('must be 0 or more'),
        documents: count,
        users: count,
      })
      .strict(),
    measuredAt: z.iso.datetime({ message: 'must be an ISO 8601 UTC time, e.g. 2026-11-22T08:00:00Z' }).optional(),
  })
  .strict();
export type ReportUsageBody = z.infer<typeof reportUsageBodySchema>;

/** Why, for the audit trail. */
const reasonSchema = z.string().trim().min(1, 'must not be empty').max(500, 'must be at most 500 characters').optional();

export const createTenantBodySchema = z
  .object({
    tenantId: tenantIdSchema.optional(),
    name: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
    email: z.email('must be an email address'),
    plan: z.enum(PLAN_IDS, { message: `must be one of ${PLAN_IDS.join(', ')}` }).default('free'),
    usage: usageSchema.default({ queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 }),
    /** The tenant's Stripe subscription, when it is billed through Stripe. */
    billing: z
      .object({
        customerId: z.string().regex(/^cus_\w+$/, 'must be a Stripe customer id (cus_...)'),
        subscriptionId: z.string().regex(/^sub_\w+$/, 'must be a Stripe subscription id (sub_...)'),
        subscriptionItemId: z.string().regex(/^si_\w+$/, 'must be a Stripe subscription item id (si_...)'),
      })
      .strict()
      .optional(),
    reason: reasonSchema,
  })
  .strict();
export type CreateTenantBody = z.infer<typeof createTenantBodySchema>;

/** Body of a transition route (suspend, resume): why, for the audit trail. */
export const transitionBodySchema = z.object({ reason: reasonSchema }).strict();
export type TransitionBody = z.infer<typeof transitionBodySchema>;

const limitSchema = z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(100, 'must be at most 100').optional();
const cursorSchema = z.string().min(1).max(2048, 'is too long').optional();

export const listTenantsQuerySchema = z
  .object({
    state: z.enum(TENANT_STATES, { message: `must be one of ${TENANT_STATES.join(', ')}` }).optional(),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict();

export const pageQuerySchema = z.object({ limit: limitSchema, cursor: cursorSchema }).strict();
