/** Request schemas for the tenant routes; types are inferred from them, never written twice. */
import * as z from 'zod';
import { TENANT_STATES } from '../lifecycle/lifecycle-table';
import { PLAN_IDS } from '../plans/plan-catalog';
import { MAX_EXACT_INTEGER, decimal, printable, queryWholeNumber, text, wholeNumber } from '../shared/schemas';

export const TENANT_ID_PATTERN = /^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])$/;
/** TENANT_ID_PATTERN in words, for every message and description that states the rule. */
export const TENANT_ID_RULE = '3 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit';

/** Stripe object ids are at most 255 characters (Stripe's API reference: "Object IDs"). */
const STRIPE_ID_MAX = 255;

export const tenantIdSchema = printable(z.string().max(63, 'must be at most 63 characters')).regex(TENANT_ID_PATTERN, `must be ${TENANT_ID_RULE}`);

export const tenantPathSchema = z.object({ tenantId: tenantIdSchema }).strict();

/** A usage count (queries, documents, users): any whole number that DynamoDB and JSON carry exactly. */
const count = wholeNumber(0, MAX_EXACT_INTEGER);
/**
 * Storage in GB: a decimal with at most 3 places (1 MB), up to 10^12 GB (a zettabyte), so every value is exact
 * in JSON and in DynamoDB.
 */
export const STORAGE_GB = { max: 1_000_000_000_000, places: 3 } as const;
const storageGb = decimal(0, STORAGE_GB.max, STORAGE_GB.places);

export const usageSchema = z
  .object({
    queriesPerMonth: count.default(0),
    storageGb: storageGb.default(0),
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
        storageGb,
        documents: count,
        users: count,
      })
      .strict(),
    measuredAt: printable(z.iso.datetime({ message: 'must be an ISO 8601 UTC time, e.g. 2026-11-22T08:00:00Z' }).max(40, 'must be at most 40 characters')).optional(),
  })
  .strict();
export type ReportUsageBody = z.infer<typeof reportUsageBodySchema>;

/** Why, for the audit trail. */
export const reasonSchema = text(500).optional();

/** A tenant's organisation name (sign-up; a deleted tenant's fresh start). */
export const tenantNameSchema = text(200);
// 254 characters: the longest address SMTP can carry (RFC 5321 4.5.3.1.3, a 256-octet path less its brackets).
export const tenantEmailSchema = printable(z.email('must be an email address').max(254, 'must be at most 254 characters'));

export const createTenantBodySchema = z
  .object({
    tenantId: tenantIdSchema.optional(),
    name: tenantNameSchema,
    email: tenantEmailSchema,
    plan: z.enum(PLAN_IDS).default('free'),
    usage: usageSchema.default({ queriesPerMonth: 0, storageGb: 0, documents: 0, users: 0 }),
    /**
     * Existing Stripe ids to bill the tenant on, instead of creating a customer and a subscription: the customer,
     * and its subscription (else its one active subscription) whose item is on the plan's price (the item id, if
     * given, is checked). Refused (422 BILLING_LINK_MISMATCH) when they do not fit, 409 SUBSCRIPTION_ALREADY_LINKED
     * when the subscription bills another tenant.
     */
    billing: z
      .object({
        customerId: printable(z.string().max(STRIPE_ID_MAX, `must be at most ${STRIPE_ID_MAX} characters`)).regex(/^cus_\w+$/, 'must be a Stripe customer id (cus_...)'),
        subscriptionId: printable(z.string().max(STRIPE_ID_MAX, `must be at most ${STRIPE_ID_MAX} characters`)).regex(/^sub_\w+$/, 'must be a Stripe subscription id (sub_...)').optional(),
        subscriptionItemId: printable(z.string().max(STRIPE_ID_MAX, `must be at most ${STRIPE_ID_MAX} characters`)).regex(/^si_\w+$/, 'must be a Stripe subscription item id (si_...)').optional(),
      })
      .strict()
      .refine((link) => link.subscriptionItemId === undefined || link.subscriptionId !== undefined, { message: 'subscriptionItemId needs its subscriptionId', path: ['subscriptionItemId'] })
      .optional(),
    /** The tenant's data is subject to the GDPR: a soft delete may then retain it 30 days at most. */
    gdpr: z.boolean().optional(),
    reason: reasonSchema,
  })
  .strict();
export type CreateTenantBody = z.infer<typeof createTenantBodySchema>;

/** Body of a transition route (suspend, resume): why, for the audit trail. */
export const transitionBodySchema = z.object({ reason: reasonSchema }).strict();
export type TransitionBody = z.infer<typeof transitionBodySchema>;

export const limitSchema = queryWholeNumber(1, 100).optional();
export const cursorSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,2048}$/, 'must be the nextCursor of the previous page, unchanged (up to 2048 base64url characters)')
  .optional();

export const listTenantsQuerySchema = z
  .object({
    state: z.enum(TENANT_STATES).optional(),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict();

export const pageQuerySchema = z.object({ limit: limitSchema, cursor: cursorSchema }).strict();
