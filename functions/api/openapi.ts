/**
 * The API's OpenAPI 3.1 description, generated from the route table (`routes.ts`) and the zod schemas the
 * handlers validate with, so the document cannot drift from what the code accepts. `npm run openapi` writes
 * it to `functions/api/openapi.json`; a unit test fails when that file is stale.
 *
 * What zod cannot know (success status, response shape and headers, which errors a route can answer) lives in
 * ROUTE_SPECS below, one entry per route id. A route in ROUTES without an entry makes the build throw, and each
 * entry is checked against the conventions `apiRoute` enforces (auth, bodies, Idempotency-Key on POST).
 */
import * as z from 'zod';
import type { ZodObject, ZodType } from 'zod';
import packageJson from '../../package.json';
import { acquireLeaseBodySchema, leasePathSchema } from '../leases/lease-schemas';
import type { QueryLease } from '../leases/query-lease-store';
import { OPERATION_STATUSES } from '../operations/operation-store';
import { WORKFLOWS } from '../workflows/registry';
import { SUBSCRIPTION_STATUSES } from '../billing/billing-port';
import { operationPathSchema } from '../operations/operation-schemas';
import { exportPathSchema, startExportBodySchema } from '../export/export-schemas';
import { changePlanBodySchema } from '../plan-change/plan-change-schemas';
import { reactivateBodySchema } from '../reactivation/reactivation-schemas';
import { REACTIVATION_ORIGINS, REACTIVATION_PATHS } from '../reactivation/reactivation-definition';
import { listViolationsQuerySchema } from '../deletion/violation-schemas';
import type { AccessDecision } from '../lifecycle/access-policy';
import { initiateDeletionBodySchema, legalHoldBodySchema } from '../deletion/deletion-schemas';
import { ACCESS_LEVELS } from '../lifecycle/access-policy';
import { LIFECYCLE_EVENTS, TENANT_STATES } from '../lifecycle/lifecycle-table';
import { PLAN_IDS, type PlanLimits } from '../plans/plan-catalog';
import type { PlanResources } from '../provisioning/plan-resources';
import {
  createTenantBodySchema,
  listTenantsQuerySchema,
  pageQuerySchema,
  reportUsageBodySchema,
  tenantPathSchema,
  transitionBodySchema,
  usageSchema,
  TENANT_ID_RULE,
} from '../tenants/tenant-schemas';
import type { TenantView } from '../tenants/tenant-service';
import { TENANT_FACING_FIELDS, type tenantFacingAuditEntry, type tenantFacingTenant } from '../tenants/tenant-view';
import { DEFAULT_CLAIM_MAPPING } from '../auth/jwt-claims';
import { CHANGE_EVENTS, CREATE_EVENT, type AuditEntry, type Tenant } from '../tenants/tenant-store';
import { stripeEventSchema } from '../dunning/stripe-event-delivery';
import type { StripeEventOutcome } from '../dunning/stripe-event-processor';
import { ROUTES, honoursIdempotencyKey, reachesTable, routeScopes, type HttpMethod, type RouteAccessLevel, type RouteDefinition } from './routes';

/** Where `npm run openapi` writes the document, relative to the repository root. */
export const OPENAPI_JSON_PATH = 'functions/api/openapi.json';
export const OPENAPI_VERSION = '3.1.0';
export const API_TITLE = 'Tenant lifecycle control plane API';
export const SECURITY_SCHEME = 'bearerAuth';
export const IDEMPOTENCY_KEY_PARAMETER = 'IdempotencyKey';
export const IF_MATCH_PARAMETER = 'IfMatch';

// ---------------------------------------------------------------------------------------------------------
// Error codes: every code the API answers with, its status and what it means. Kept in step with the code by
// a unit test that scans functions/ for `new ApiError(status, 'CODE'`.
// ---------------------------------------------------------------------------------------------------------

export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, description: 'A path parameter, query parameter or body field is invalid, or unknown; `details` is a list of `{ in, field, message }`.' },
  MALFORMED_JSON: { status: 400, description: 'The request body is not valid JSON.' },
  STRIPE_SIGNATURE_INVALID: {
    status: 400,
    description: 'The Stripe-Signature header is missing, malformed, made with another secret, over other bytes (an altered or re-serialized body), or older than 300 s; nothing was changed.',
  },
  MALFORMED_UTF8: { status: 400, description: 'The request body is not UTF-8 text (invalid byte sequences, or U+FFFD where a decoding lost them).' },
  MALFORMED_REQUEST: { status: 400, description: 'The HTTP request itself could not be parsed (request line or headers); the connection is closed. Local adapter; on AWS, API Gateway answers itself.' },
  REQUEST_TIMEOUT: { status: 408, description: 'The request did not arrive in time; the connection is closed. Local adapter; on AWS, API Gateway answers itself.' },
  EXPECTATION_FAILED: { status: 417, description: 'An `Expect` header other than `100-continue`. Local adapter; on AWS, API Gateway answers itself.' },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, description: "The request line and header values exceed API Gateway's 10240-byte quota. Local adapter; on AWS, API Gateway answers itself." },
  UNEXPECTED_BODY: { status: 400, description: 'This route takes no request body; send none.' },
  INVALID_CURSOR: { status: 400, description: 'The cursor was not issued for this query; pass back `nextCursor` unchanged.' },
  INVALID_IF_MATCH: { status: 400, description: 'If-Match is not a tenant version (the ETag you read, e.g. `"3"`).' },
  INVALID_IDEMPOTENCY_KEY: { status: 400, description: 'Idempotency-Key must be 1 to 255 printable ASCII characters without spaces.' },
  TOKEN_MISSING: { status: 401, description: 'No `Authorization: Bearer <token>` header.' },
  TOKEN_INVALID: { status: 401, description: "The token is not a JWT this API accepts: malformed, not RSA-signed, signed by a key the issuer does not publish, another issuer's or audience's, or not yet valid; the message says which." },
  TOKEN_EXPIRED: { status: 401, description: 'The token is past its `exp`; get a new one.' },
  INSUFFICIENT_SCOPE: { status: 403, description: 'The token lacks the scope the route needs (the operator scope, or either scope); the message names it.' },
  UNAUTHENTICATED: { status: 401, description: 'The request reached the handler without an authenticated principal.' },
  FORBIDDEN: { status: 403, description: "The route needs an operator token, or a tenant-scoped token asked for another tenant's resources." },
  TENANT_NOT_FOUND: { status: 404, description: 'No tenant has this id; `details.tenantId`.' },
  ROUTE_NOT_FOUND: { status: 404, description: 'No route has this path (any method).' },
  METHOD_NOT_ALLOWED: { status: 405, description: 'The path exists under other methods; `details.allowedMethods` and the `Allow` header list them.' },
  TENANT_EXISTS: { status: 409, description: 'A tenant with this id already exists; `details.tenantId`.' },
  SUBSCRIPTION_ALREADY_LINKED: { status: 409, description: 'The Stripe subscription to link already bills another tenant (a subscription bills one tenant); `details` has `subscriptionId` and `linkedTenantId`.' },
  ILLEGAL_TRANSITION: { status: 409, description: "The tenant's state does not allow this event; `details` has `currentState`, `event`, `allowedEvents`." },
  VERSION_CONFLICT: { status: 409, description: 'The tenant changed since it was read (If-Match, or a concurrent change); `details` has `expectedVersion`, `currentVersion`, `currentState`.' },
  OPERATION_IN_PROGRESS: { status: 409, description: 'The tenant is in a transitional state owned by a running operation: every change of the tenant gets this until it ends; `details` has `currentState`, `operationId`.' },
  TENANT_READ_ONLY: {
    status: 409,
    description: 'The tenant is in a read-only window (a plan change is migrating it) and takes no new query leases; `details` has `reason` (`read_only_window`), `state`, `readOnlyReason`. A `Retry-After` header says when to ask again.',
    retryAfter: true,
  },
  TENANT_BLOCKED: { status: 409, description: 'The tenant is soft-deleted or deleted: it takes no query leases (`details` has `reason` (`blocked`), `state`) and no usage reports (`details.currentState`); nothing is recorded.' },
  INVALID_RETENTION: { status: 400, description: 'retentionDays is over what the tenant allows: at most 30 days for a tenant flagged GDPR (out of 30–90 for any tenant is VALIDATION_FAILED); the message says so.' },
  NOT_DELETING: { status: 409, description: 'The tenant is not soft-deleted: there is no deletion to cancel; `details.currentState`.' },
  ERASURE_STARTED: { status: 409, description: 'A hard delete has begun purging the tenant\'s data (it may run from the window\'s opening, an hour before the deadline): part of it may be gone, so the deletion can no longer be cancelled; `details` has `operationId` and `erasureStartedAt`.' },
  DELETION_DEADLINE_PASSED: { status: 409, description: 'The retention period has ended: the data is gone or being purged, and the deletion can no longer be cancelled; `details` has `deadline` (and `deletedAt` once deleted).' },
  NOT_REACTIVATABLE: { status: 409, description: 'The tenant is in no state a reactivation starts from (it is active): only suspended, soft-deleted within retention, or deleted; `details.currentState` and `details.reactivatableFrom`.' },
  DATA_DELETED: { status: 409, description: 'A restore of a deleted tenant: its data was erased at `details.deletedAt` (certificate `details.deletionCertificateId`); reactivate with `restoreData: false` and its name, email and plan to start fresh.' },
  FRESH_START_UNAVAILABLE: { status: 422, description: '`restoreData: false` for a suspended tenant: a resume keeps the data; soft-delete it first to start fresh.' },
  DETAILS_REQUIRED: { status: 422, description: 'A deleted tenant\'s fresh start without what its deletion erased: `details.missing` lists `name`, `email`, `plan`.' },
  DETAILS_NOT_ACCEPTED: { status: 422, description: '`name` or `email` given for a tenant that is not deleted (it keeps its own).' },
  TENANT_DELETED: { status: 409, description: 'The tenant is deleted: its data is gone, there is nothing left to hold.' },
  NO_LEGAL_HOLD: { status: 404, description: 'The tenant has no legal hold to release; `details.tenantId`.' },
  MEASURED_IN_FUTURE: { status: 400, description: 'A usage report dated more than 5 minutes ahead of our clock; send the UTC time it was measured, or omit `measuredAt`. (Up to 5 minutes ahead is accepted and recorded as measured now.)' },
  SAME_PLAN: { status: 400, description: 'The tenant is already on the requested plan.' },
  INVALID_EFFECTIVE: { status: 400, description: 'Upgrades take effect immediately; `effective: "period_end"` applies to downgrades only.' },
  OPERATION_NOT_FOUND: { status: 404, description: 'No operation has this id; `details.operationId`.' },
  DELETION_CERTIFICATE_NOT_FOUND: { status: 404, description: 'The tenant is not deleted (yet): a certificate is written when its hard delete completes; `details.tenantId`, `details.state`.' },
  EXPORT_NOT_FOUND: { status: 404, description: 'No export has this id (or it is another tenant\'s); `details.exportId`.' },
  EXPORT_EXPIRED: { status: 410, description: 'The export was kept its retention (30 days by default) and is deleted; request a new one. `details.expiredAt`.' },
  BILLING_REJECTED: { status: 422, description: 'The billing provider refused the change (for example no Stripe subscription for the tenant); the message says why.' },
  BILLING_UNAVAILABLE: { status: 503, description: 'The billing provider did not answer; nothing was changed. Retry later.' },
  BILLING_LINK_MISMATCH: { status: 422, description: 'The Stripe ids given to link (`billing`) do not make one account on the plan: no such customer, another customer\'s or an ended subscription, no item on the plan\'s price, none or several active subscriptions; the message says which. Nothing was created.' },
  USAGE_EXCEEDS_PLAN: { status: 422, description: "The tenant's usage exceeds the new plan's limits; `details.violations` lists each metric, its usage, its limit and a message." },
  PLAN_CHANGE_SCHEDULED: { status: 409, description: 'A plan change is scheduled for the end of the billing period; cancel it first (DELETE /tenants/{tenantId}/scheduled-plan-change). `details.scheduledPlanChange` says which.' },
  NO_SCHEDULED_PLAN_CHANGE: { status: 404, description: 'The tenant has no scheduled plan change to cancel; `details.tenantId`.' },
  PLAN_CHANGE_STARTED: { status: 409, description: 'The scheduled plan change started at its date and has ended since; it can no longer be cancelled. `details.operationId`.' },
  SCHEDULING_UNAVAILABLE: { status: 503, description: 'The period-end change could not be scheduled (billing or the scheduler failed); nothing was changed. Retry later.' },
  CANCELLATION_INCOMPLETE: { status: 503, description: 'The scheduled change is cancelled and will not happen, but undoing its billing or schedule has not finished; send the DELETE again (or it finishes within the hour). `details.operationId`.' },
  TENANT_BUSY: { status: 503, description: 'DynamoDB refused the request (a transaction conflict with other requests on the same tenant, or throttling); nothing was changed. Retry in a moment.' },
  WORKFLOW_UNAVAILABLE: { status: 503, description: 'The workflow could not be started; nothing was changed. Retry later.' },
  STRIPE_EVENT_IN_PROGRESS: { status: 409, description: 'Another delivery of the same Stripe event is being processed; Stripe delivers it again later, and that delivery is answered as a duplicate.' },
  IDEMPOTENCY_IN_PROGRESS: { status: 409, description: 'A request with this Idempotency-Key is still running; retry in a few seconds.' },
  LEASE_LIMIT_REACHED: {
    status: 429,
    description:
      'The tenant already holds as many live query leases as it may (`MAX_LIVE_LEASES_PER_TENANT`, default 100); nothing was written. Release leases when their queries end; `Retry-After` (and `details.retryAfterSeconds`) is when the soonest live one expires, `details.limit` the cap.',
    retryAfter: true,
  },
  PAYLOAD_TOO_LARGE: { status: 413, description: 'The request body is larger than the limit (64 KiB by default).' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: 'The body is not sent as `Content-Type: application/json`.' },
  IDEMPOTENCY_KEY_REUSED: { status: 422, description: 'This Idempotency-Key was already used for a different request.' },
  RATE_LIMITED: {
    status: 429,
    description:
      "The caller sent more than its rate limit (every tenant-scoped token of a tenant shares the tenant's; each operator has one): the message says the limit, the `Retry-After` header how many seconds to wait. Nothing was changed, and an Idempotency-Key sent with it is still free.",
  },
  INTERNAL_ERROR: { status: 500, description: 'An unexpected failure; nothing internal is disclosed. Retry later.' },
  LIFECYCLE_INVARIANT_BROKEN: { status: 500, description: 'The stored tenant breaks a lifecycle invariant; an operator has been alerted.' },
} as const satisfies Record<string, { readonly status: number; readonly description: string; readonly retryAfter?: true }>;

export type ErrorCode = keyof typeof ERROR_CODES;
const ERROR_CODE_NAMES = Object.keys(ERROR_CODES) as ErrorCode[];

/** Refused by the JWT authorizer (TOKEN_*, INSUFFICIENT_SCOPE), by `principalOf` and by `authorizeRoute` (every authenticated route). */
const AUTH_ERRORS: readonly ErrorCode[] = ['TOKEN_MISSING', 'TOKEN_INVALID', 'TOKEN_EXPIRED', 'UNAUTHENTICATED', 'INSUFFICIENT_SCOPE', 'FORBIDDEN'];
/** Refused by `apiRoute` before the handler runs: query and path are strict, so any route can fail validation. */
const NO_BODY_ERRORS: readonly ErrorCode[] = ['VALIDATION_FAILED', 'UNEXPECTED_BODY', 'PAYLOAD_TOO_LARGE'];
const JSON_BODY_ERRORS: readonly ErrorCode[] = ['VALIDATION_FAILED', 'MALFORMED_JSON', 'MALFORMED_UTF8', 'UNSUPPORTED_MEDIA_TYPE', 'PAYLOAD_TOO_LARGE'];
/** The Idempotency-Key middleware (every POST). */
const IDEMPOTENCY_ERRORS: readonly ErrorCode[] = ['INVALID_IDEMPOTENCY_KEY', 'IDEMPOTENCY_IN_PROGRESS', 'IDEMPOTENCY_KEY_REUSED'];
/** If-Match on a route that changes a tenant. */
const IF_MATCH_ERRORS: readonly ErrorCode[] = ['INVALID_IF_MATCH', 'VERSION_CONFLICT'];

/** Every error a route behind `apiRoute` can answer: auth, input, idempotency (POST), DynamoDB contention (503), 500, and its own. */
function apiRouteErrors(options: { body: boolean; idempotent?: boolean }, ...own: ErrorCode[]): ErrorCode[] {
  return [
    ...new Set<ErrorCode>([
      ...AUTH_ERRORS,
      ...(options.body ? JSON_BODY_ERRORS : NO_BODY_ERRORS),
      ...(options.idempotent ? IDEMPOTENCY_ERRORS : []),
      ...own,
      'TENANT_BUSY',
      'INTERNAL_ERROR',
    ]),
  ];
}

// ---------------------------------------------------------------------------------------------------------
// Response schemas. The type assertions after them fail to compile if they drift from the handlers' types.
// ---------------------------------------------------------------------------------------------------------

const tenantStateSchema = z.enum(TENANT_STATES).meta({ description: 'Lifecycle state.' });
const lifecycleEventSchema = z.enum(LIFECYCLE_EVENTS).meta({ description: 'Lifecycle event.' });
const planIdSchema = z.enum(PLAN_IDS).meta({ description: 'Plan, cheapest first.' });
const timestamp = z.iso.datetime();
const limit = z.number().min(-1);
const unlimited = (metric: string) => ({ description: `The plan's limit of ${metric}; -1 means unlimited.` });
const planLimitsSchema = z
  .object({
    queriesPerMonth: limit.int().meta(unlimited('queries per month')),
    storageGb: limit.meta(unlimited('storage, in GB')),
    documents: limit.int().meta(unlimited('documents')),
    users: limit.int().meta(unlimited('users')),
  })
  .meta({ description: 'Plan limits per usage metric; -1 means unlimited.' });

const vectorPlacementSchema = z
  .object({ kind: z.enum(['pooled', 'dedicated']), index: z.string(), namespace: z.string() })
  .meta({ description: "Where the tenant's vectors live: its namespace in the shared pooled index, or its dedicated index." });

const usageReportBySchema = z
  .object({
    by: z.enum(['operator', 'tenant']).meta({ description: "`operator` (a correction) or `tenant` (the tenant's own token: its application plane)." }),
    heldUntil: timestamp.optional().meta({ description: "An operator's report: the tenant's own reports are not applied before this time (an hour after it)." }),
  })
  .meta({ description: 'Who reported the usage recorded; absent for the figures given at sign-up.' });

const tenantSchema = z
  .object({
    tenantId: z.string(),
    name: z.string(),
    email: z.email(),
    plan: planIdSchema,
    state: tenantStateSchema,
    origin: tenantStateSchema.optional().meta({ description: 'Where an exporting or reactivating tenant returns to.' }),
    operationId: z.string().optional().meta({ description: 'The operation that owns a transitional state.' }),
    readOnlyReason: z.string().optional().meta({ description: 'Set while a workflow holds the tenant read-only.' }),
    resources: z
      .object({
        plan: planIdSchema,
        limits: planLimitsSchema,
        requestsPerSecond: z.number(),
        vectors: vectorPlacementSchema,
        provisionedBy: z.string().optional(),
      })
      .optional()
      .meta({ description: 'What the last plan change provisioned: limits, request rate, where the vectors live.' }),
    billing: z
      .object({ customerId: z.string(), subscriptionId: z.string(), subscriptionItemId: z.string() })
      .optional()
      .meta({ description: "The tenant's Stripe subscription, when billed through Stripe." }),
    scheduledPlanChange: z
      .object({ operationId: z.string(), plan: planIdSchema, effectiveAt: timestamp })
      .optional()
      .meta({ description: 'A downgrade waiting for the end of the billing period: until `effectiveAt` the tenant keeps its plan, limits and resources.' }),
    gdpr: z.boolean().optional().meta({ description: "The tenant's data is subject to the GDPR: a soft delete retains it 30 days at most." }),
    deletion: z
      .object({
        requestedAt: timestamp,
        requestedBy: z.string(),
        reason: z.string().optional(),
        retentionDays: z.number().int(),
        deadline: timestamp,
        window: z.object({ opensAt: timestamp, closesAt: timestamp }),
        schedules: z.object({ hardDelete: z.string(), enforcement: z.string() }),
      })
      .optional()
      .meta({ description: 'The soft delete of a soft-deleted tenant: the hard delete is due at `deadline` and must run within `window` (before it: early, after it: a compliance violation); until `deadline` it can be cancelled.' }),
    legalHold: z
      .object({ reason: z.string(), by: z.string(), since: timestamp })
      .optional()
      .meta({ description: 'A legal hold: while it is set the hard delete does not run.' }),
    dunning: z
      .object({
        standing: z.enum(['grace', 'suspended']),
        since: timestamp,
        graceEndsAt: timestamp.optional(),
        deleteAt: timestamp.optional(),
        subscriptionId: z.string(),
        status: z.enum([...SUBSCRIPTION_STATUSES, 'missing']),
        cause: z.object({ channel: z.enum(['webhook', 'eventbridge', 'reconcile', 'timer']), eventId: z.string().optional(), eventType: z.string().optional() }),
      })
      .optional()
      .meta({ description: "The tenant's standing in the dunning ladder, absent in good standing: grace (a payment failed; full access until `graceEndsAt`) or suspended (by the ladder: a payment lifts it; a canceled subscription is soft-deleted at `deleteAt` when configured)." }),
    deletedAt: timestamp.optional().meta({ description: 'Once deleted: when the hard delete completed.' }),
    deletionCertificateId: z.string().optional().meta({ description: 'Once deleted: its deletion certificate (`GET /tenants/{tenantId}/deletion-certificate`).' }),
    usage: usageSchema,
    usageMeasuredAt: timestamp.optional().meta({ description: 'When the application plane measured `usage` (its last report).' }),
    usageReport: usageReportBySchema.optional(),
    version: z.number().int().min(1).meta({ description: 'Increases by one per change of the tenant, each with its entry in the history (1..version, no gap); the ETag. Usage reports do not change it.' }),
    createdAt: timestamp,
    updatedAt: timestamp,
    stateChangedAt: timestamp,
    allowedEvents: z.array(lifecycleEventSchema).meta({
      description:
        'The lifecycle events the API would accept for this tenant now: allowed from its state, not blocked by a running operation (OPERATION_IN_PROGRESS) or a scheduled plan change (PLAN_CHANGE_SCHEDULED), and for a plan change with a plan to move to.',
    }),
  })
  .meta({ description: 'A tenant, with the lifecycle events the API would accept for it now.' });

const complianceViolationSchema = z
  .object({
    kind: z.literal('hard_delete_late').meta({ description: 'A hard delete that ran, or was found not run, after its enforcement window closed.' }),
    dueBy: timestamp.meta({ description: "The latest allowed time: the enforcement window's close (deadline + 1 h by default)." }),
    detectedAt: timestamp.meta({ description: 'When it was found.' }),
    latenessSeconds: z.number().int().min(0).meta({ description: 'Seconds from `dueBy` to `detectedAt`.' }),
    detectedBy: z.enum(['hard-delete', 'enforcement-check', 'sweeper']).meta({ description: "What found it: the hard delete's own (late) firing, the enforcement check after the window, or the hourly sweeper." }),
  })
  .meta({ description: 'A missed deletion deadline (GDPR Art. 17 erasure not done within the promised window).' });

const auditEntrySchema = z
  .object({
    tenantId: z.string(),
    version: z.number().int().min(1).meta({ description: 'The tenant version this entry produced.' }),
    at: timestamp,
    actor: z.string().meta({ description: 'Token subject that made the request (for a workflow step: the subject that requested the workflow), or the system process.' }),
    event: z.enum([...LIFECYCLE_EVENTS, CREATE_EVENT, ...Object.values(CHANGE_EVENTS)]).meta({
      description: `A lifecycle event, \`create\`, or a change that keeps the state (\`from\` equals \`to\`): ${Object.values(CHANGE_EVENTS).join(', ')}.`,
    }),
    from: tenantStateSchema.nullable().meta({ description: 'null for the create entry.' }),
    to: tenantStateSchema,
    reason: z.string().optional().meta({ description: 'The `reason` sent with the request, else what happened (for a rollback: its cause, readable).' }),
    operationId: z.string().optional().meta({ description: 'The operation (workflow) or request that made the change.' }),
    stripeEventId: z.string().optional().meta({ description: 'The Stripe event that caused the change (the dunning ladder).' }),
    stripeEventType: z.string().optional().meta({ description: 'Its type, e.g. `invoice.payment_failed`.' }),
    violation: complianceViolationSchema.optional().meta({ description: 'On a `compliance_violation` entry: the deadline missed and by how much.' }),
    forced: z.literal(true).optional().meta({ description: 'On the entries of a plan change an operator forced (`"force": true`): it revoked the tenant\'s live query leases instead of waiting for them.' }),
    reactivationPath: z.enum(REACTIVATION_PATHS).optional().meta({ description: "On a reactivation's entries: `resume`, `restore` or `fresh_start`." }),
  })
  .meta({ description: "One append-only line of a tenant's audit trail." });

const nextCursorSchema = z.string().nullable().meta({ description: 'Pass as `cursor` for the next page; null on the last page.' });
const tenantPageSchema = z.object({ items: z.array(tenantSchema), nextCursor: nextCursorSchema });
const auditEntryPageSchema = z.object({ items: z.array(auditEntrySchema), nextCursor: nextCursorSchema });
const complianceViolationPageSchema = z
  .object({ items: z.array(auditEntrySchema), nextCursor: nextCursorSchema })
  .meta({ description: 'Audit entries `compliance_violation` of every tenant, each with its `violation`, oldest detected first.' });

const accessDecisionSchema = z
  .object({
    tenantId: z.string(),
    access: z.enum(ACCESS_LEVELS),
    reason: z.string(),
    state: tenantStateSchema,
    plan: planIdSchema,
    limits: planLimitsSchema,
    requestsPerSecond: z.number().meta({ description: "The tenant's request rate; the application plane throttles to it." }),
    vectors: vectorPlacementSchema,
    version: z.number().int().min(1),
    billing: z
      .object({ standing: z.literal('grace'), warning: z.string(), graceEndsAt: timestamp })
      .optional()
      .meta({ description: 'Present while a payment failed and the tenant is in the grace period: access stays as answered until `graceEndsAt`, then the tenant is suspended (read-only) unless the payment succeeds.' }),
  })
  .meta({ description: 'What the application plane may do for the tenant right now, within which limits, and where its vectors live.' });

const reconcileReportSchema = z
  .object({
    checked: z.number().int().min(0).meta({ description: 'Tenants whose subscription was read.' }),
    changed: z.array(z.object({ tenantId: z.string(), from: tenantStateSchema, to: tenantStateSchema, action: z.string().meta({ description: 'start_grace, end_grace, suspend, resume or soft_delete.' }) })),
    errors: z.array(z.object({ tenantId: z.string(), message: z.string() })).meta({ description: 'Tenants that could not be reconciled (retried at the next run).' }),
  })
  .meta({ description: 'What a billing reconciliation read and changed.' });

const queryLeaseSchema = z
  .object({
    tenantId: z.string(),
    leaseId: z.uuid().meta({ description: 'Pass it to DELETE /tenants/{tenantId}/leases/{leaseId} when the query is done.' }),
    holder: z.string().meta({ description: 'Who holds the lease: the `holder` sent, or the token subject.' }),
    acquiredAt: timestamp,
    expiresAt: timestamp.meta({ description: 'When the lease stops counting unless released earlier.' }),
  })
  .meta({ description: 'A query lease: while it is live, a plan change waits before migrating the tenant.' });

const usageViolationSchema = z
  .object({ metric: z.string(), current: z.number(), limit: z.number(), message: z.string() })
  .meta({ description: 'One metric over a plan limit, e.g. `users: 25 exceeds the starter limit of 10`.' });

const usageReportSchema = z
  .object({
    tenantId: z.string(),
    applied: z.boolean().meta({ description: 'false when a report that wins over this one is recorded (`notApplied` says which): this one changed nothing.' }),
    notApplied: z
      .object({ code: z.enum(['NEWER_REPORT_RECORDED', 'OPERATOR_CORRECTION_HOLDS']), message: z.string() })
      .optional()
      .meta({ description: "Why the report changed nothing: `NEWER_REPORT_RECORDED` (a report measured later is recorded; an operator's loses only to an operator's) or `OPERATOR_CORRECTION_HOLDS` (a tenant's report within an hour of an operator's correction)." }),
    usage: usageSchema,
    usageMeasuredAt: timestamp.nullable(),
    usageReport: usageReportBySchema.optional(),
    plan: planIdSchema,
    limits: planLimitsSchema,
    violations: z.array(usageViolationSchema).meta({ description: "Where usage exceeds the plan's limits." }),
    scheduledPlanChange: z
      .object({ operationId: z.string(), plan: planIdSchema, effectiveAt: timestamp, violations: z.array(usageViolationSchema) })
      .optional()
      .meta({ description: 'A downgrade scheduled for the period end, and where usage exceeds its limits: if it still does then, the downgrade is cancelled.' }),
  })
  .meta({ description: 'The usage recorded for the tenant after the report, against its plan and any scheduled change.' });

const healthSchema = z.object({ status: z.literal('ok') });
const stripeWebhookReceivedSchema = z.object({
  received: z.literal(true),
  /** What the Stripe event processor did with the event (StripeEventOutcome's result). */
  result: z.enum(['applied', 'no_change', 'duplicate', 'stale', 'ignored']),
});

const errorSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODE_NAMES).meta({ description: ERROR_CODE_NAMES.map((code) => `${code} (${ERROR_CODES[code].status})`).join(', ') }),
      message: z.string().meta({ description: 'For people: what went wrong and what to do.' }),
      details: z.unknown().optional().meta({ description: 'Machine-readable specifics; the shape depends on the code.' }),
    }),
  })
  .meta({ description: "The API's error body: a stable code, a message, and details for some codes." });

const gatewayErrorSchema = z
  .object({ message: z.string() })
  .meta({ description: 'A response API Gateway produces itself, before any handler runs (on AWS only).' });

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
type Page<T> = { items: T[]; nextCursor: string | null };
type AccessResponse = AccessDecision & Pick<Tenant, 'tenantId' | 'state' | 'plan' | 'version'> & { limits: PlanLimits } & Pick<PlanResources, 'requestsPerSecond' | 'vectors'>;
type _TenantSchemaMatches = Assert<Same<z.output<typeof tenantSchema>, TenantView>>;
type _AuditEntrySchemaMatches = Assert<Same<z.output<typeof auditEntrySchema>, AuditEntry>>;
type _TenantPageSchemaMatches = Assert<Same<z.output<typeof tenantPageSchema>, Page<TenantView>>>;
type _AuditPageSchemaMatches = Assert<Same<z.output<typeof auditEntryPageSchema>, Page<AuditEntry>>>;
type _AccessSchemaMatches = Assert<Same<z.output<typeof accessDecisionSchema>, AccessResponse>>;
type _QueryLeaseSchemaMatches = Assert<Same<z.output<typeof queryLeaseSchema>, QueryLease>>;
type _StripeWebhookResultMatches = Assert<Same<z.output<typeof stripeWebhookReceivedSchema>['result'], StripeEventOutcome['result']>>;

const planChangeAcceptedSchema = z
  .object({
    operationId: z.string(),
    status: z.enum(['running', 'scheduled']).meta({ description: '`scheduled` for a downgrade at the end of the billing period.' }),
    tenantId: z.string(),
    direction: z.enum(['upgrade', 'downgrade']),
    fromPlan: planIdSchema,
    toPlan: planIdSchema,
    effective: z.enum(['immediately', 'period_end']),
    effectiveAt: timestamp.optional().meta({ description: 'When a scheduled change takes effect (the end of the billing period).' }),
    operation: z.string().meta({ description: 'Where to follow it: `/operations/{operationId}`.' }),
  })
  .meta({ description: 'The plan change started (202). With `dryRun: true` the answer is instead 200 with the preview: `allowed`, `blockers`, `violations`, `limits`, `resources`, `billing` (the proration preview) and `drain` (what the drain would do with the live query leases: `force`, `drainTimeoutSeconds`, `liveLeases`, `holders`, `effect`).' });

const operationSchema = z
  .object({
    operationId: z.string(),
    tenantId: z.string(),
    workflow: z.enum(WORKFLOWS).meta({ description: 'Its workflow, from the registry (functions/workflows/registry.ts).' }),
    status: z.enum(OPERATION_STATUSES).meta({ description: '`scheduled` (waiting for its date), `running`, `compensating`, then `succeeded`, `rolled_back` (undone after it started) or `cancelled` (undone before).' }),
    input: z.record(z.string(), z.unknown()),
    steps: z.array(z.string()).meta({ description: 'Step markers in order (read_only_window, drained, provisioning_started, provisioned, billing_started, billing_updated, ...).' }),
    facts: z.record(z.string(), z.unknown()),
    error: z.object({ code: z.string(), message: z.string() }).optional().meta({ description: 'Why it was rolled back or cancelled.' }),
    effectiveAt: z.string().optional().meta({ description: 'For a scheduled change: when it is due.' }),
    requestedBy: z.string(),
    createdAt: z.string(),
    startedAt: z.string().optional().meta({ description: 'When its workflow started running: at creation, or for a scheduled change when its date came. Absent while it waits.' }),
    updatedAt: z.string(),
    finishedAt: z.string().optional(),
  })
  .meta({ description: 'A workflow operation.' });

const deletionCertificateSchema = z
  .object({
    certificateId: z.string(),
    tenantId: z.string(),
    operationId: z.string().meta({ description: 'The hard delete operation.' }),
    deletion: z.object({ requestedAt: z.string(), requestedBy: z.string(), retentionDays: z.number().int(), deadline: z.string() }).meta({ description: 'The soft delete.' }),
    window: z.object({ opensAt: z.string(), closesAt: z.string() }).meta({ description: 'When the hard delete was allowed to run (deadline ± the enforcement tolerance).' }),
    trigger: z.object({ kind: z.enum(['deadline', 'enforcement-check', 'sweeper', 'hold-released']), scheduledAt: z.string() }),
    startedAt: z.string(),
    completedAt: z.string(),
    timeliness: z.union([z.object({ onTime: z.literal(true) }), z.object({ onTime: z.literal(false), latenessSeconds: z.number().int() })]).meta({ description: 'Late: seconds after the window closed; a compliance violation is in the audit trail.' }),
    sources: z
      .array(
        z.object({
          source: z.string(),
          before: z.number().int().meta({ description: 'Records it held when the purge started.' }),
          deleted: z.number().int(),
          purgedAt: z.string(),
          verification: z.object({ result: z.literal('empty'), remaining: z.literal(0), verifiedAt: z.string() }),
          retained: z.object({ count: z.number().int(), basis: z.string() }).optional().meta({ description: 'Records kept on purpose, with their legal basis.' }),
        }),
      )
      .meta({ description: 'Every data source, in the order purged.' }),
    billingCustomer: z.object({ deleted: z.boolean(), at: z.string() }),
    legalHolds: z.array(z.object({ event: z.enum(['place_legal_hold', 'release_legal_hold']), at: z.string(), actor: z.string(), reason: z.string().optional() })),
    tombstoneFields: z.array(z.string()).meta({ description: 'What the tenant record keeps.' }),
    sha256: z.string().meta({ description: 'SHA-256 (hex) of the JSON of every other field, object keys sorted, no whitespace (RFC 8785).' }),
  })
  .meta({ description: "The proof of a tenant's erasure (GDPR Art. 17, Art. 5(2))." });

const exportAcceptedSchema = z
  .object({
    exportId: z.string().meta({ description: 'The export id (its operation id).' }),
    tenantId: z.string(),
    status: z.literal('running'),
    requestedAt: timestamp.meta({ description: 'When the request was received: the GDPR clock starts here.' }),
    dueAt: timestamp.meta({ description: 'One calendar month later (GDPR Art. 12(3)).' }),
    export: z.string().meta({ description: 'Where to follow it: `/exports/{exportId}` (also the `Location` header).' }),
    operation: z.string().meta({ description: 'The same run as a workflow operation: `/operations/{exportId}`.' }),
  })
  .meta({ description: 'The export started (202).' });

const reactivationAcceptedSchema = z
  .object({
    operationId: z.string().meta({ description: 'The reactivation\'s operation: follow it at `/operations/{operationId}`.' }),
    tenantId: z.string(),
    status: z.literal('running'),
    path: z.enum(REACTIVATION_PATHS).meta({ description: '`resume` (suspended, with its data), `restore` (soft-deleted, with its data), `fresh_start` (none of the old data).' }),
    from: z.enum(Object.values(REACTIVATION_ORIGINS)).meta({ description: 'Where it comes from, and where a failure returns it.' }),
    plan: z.enum(PLAN_IDS).meta({ description: 'The plan it comes back on.' }),
    restoreData: z.boolean(),
    operation: z.string().meta({ description: '`/operations/{operationId}` (also the `Location` header).' }),
  })
  .meta({ description: 'The reactivation started (202).' });

const downloadLinkSchema = z.object({
  key: z.string().meta({ description: 'The file inside the export: `manifest.json`, `README.md`, `<source>/part-NNNNN.ndjson.gz`.' }),
  url: z.string().meta({ description: 'Presigned S3 GET URL (SigV4), made on this request.' }),
  expiresAt: timestamp,
});

const exportSchema = z
  .object({
    exportId: z.string(),
    tenantId: z.string(),
    status: z.enum(OPERATION_STATUSES).meta({ description: '`running`, then `succeeded` or `failed` (the tenant is back in the state it came from either way).' }),
    step: z.string().meta({ description: 'The last step recorded: `initiated`, `counted:<source>`, `exported:<source>:<batch>`, `manifest_written`, `verified`.' }),
    requestedBy: z.string(),
    requestedAt: timestamp,
    dueAt: timestamp.meta({ description: 'One calendar month after `requestedAt` (GDPR Art. 12(3)).' }),
    overdueRisk: z.boolean().meta({ description: 'Unfinished within 7 days of `dueAt`, or past it.' }),
    sources: z
      .array(z.object({ source: z.string(), expected: z.number().int().meta({ description: 'Records the source held when counted.' }), exported: z.number().int().meta({ description: 'Records written so far.' }) }))
      .meta({ description: 'Progress per data source, in export order.' }),
    manifest: z.object({ manifestKey: z.string(), parts: z.number().int(), records: z.number().int(), bytes: z.number().int() }).optional().meta({ description: 'Once the manifest is written.' }),
    verified: z.object({ parts: z.number().int(), records: z.number().int(), bytes: z.number().int() }).optional().meta({ description: 'Once every part was checked against the manifest (sha256, size, records).' }),
    error: z.object({ code: z.string(), message: z.string() }).optional().meta({ description: 'Why it failed.' }),
    finishedAt: timestamp.optional(),
    download: z
      .object({ expiresAt: timestamp, files: z.array(downloadLinkSchema) })
      .optional()
      .meta({ description: 'Once succeeded and while kept: a presigned GET URL for every file (manifest, README, parts), valid 15 minutes, new on each request.' }),
  })
  .meta({ description: 'A GDPR export.' });

const exportPageSchema = z.object({ items: z.array(exportSchema), nextCursor: z.string().nullable() }).meta({ description: 'One page of exports, newest first (without download URLs).' });

// ---------------------------------------------------------------------------------------------------------
// What a tenant-scoped token gets instead (functions/tenants/tenant-view.ts): the same records without operators'
// names and reasons, Stripe ids, internal error messages and infrastructure names; made from the same field lists.
// ---------------------------------------------------------------------------------------------------------

/** A zod pick mask of `keys`. */
const only = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((key) => [key, true])) as { [P in K]: true };
const TENANT_FACING = ' What a tenant-scoped token gets (operators get the whole record): see "The tenant\'s view" in the README.';
const errorCodeOnlySchema = z.object({ code: z.string() }).optional().meta({ description: 'Why it failed or was rolled back: the code only (the message is for operators).' });

const tenantFacingTenantSchema = tenantSchema
  .pick(only(TENANT_FACING_FIELDS.tenant))
  .extend({
    resources: tenantSchema.shape.resources.unwrap().pick(only(TENANT_FACING_FIELDS.resources)).optional().meta({ description: 'Its limits and request rate.' }),
    deletion: tenantSchema.shape.deletion.unwrap().pick(only(TENANT_FACING_FIELDS.deletion)).optional().meta({ description: 'Its soft delete: when it was asked, the retention, and when the hard delete is due.' }),
    legalHold: tenantSchema.shape.legalHold.unwrap().pick(only(TENANT_FACING_FIELDS.legalHold)).optional().meta({ description: 'A legal hold is set (since when): the hard delete does not run meanwhile.' }),
    dunning: tenantSchema.shape.dunning.unwrap().pick(only(TENANT_FACING_FIELDS.dunning)).optional().meta({ description: 'Its standing after a failed payment: grace until `graceEndsAt`, or suspended.' }),
  })
  .meta({ description: `A tenant.${TENANT_FACING}` });

const tenantFacingAuditEntrySchema = auditEntrySchema
  .pick(only(TENANT_FACING_FIELDS.auditEntry))
  .extend({
    reasonCategory: z.enum(['billing', 'compliance', 'account']).meta({
      description: '`billing` (a payment or subscription event), `compliance` (a missed deletion deadline, recorded against the control plane), else `account` (a change made on request: an operator\'s, the application\'s, or a workflow one of them started).',
    }),
    violation: complianceViolationSchema.pick(only(TENANT_FACING_FIELDS.violation)).optional().meta({ description: 'On a `compliance_violation` entry: the deadline missed and by how much.' }),
  })
  .meta({ description: `One line of the tenant's history.${TENANT_FACING}` });

const tenantFacingAuditEntryPageSchema = z.object({ items: z.array(tenantFacingAuditEntrySchema), nextCursor: nextCursorSchema });

const tenantFacingOperationSchema = z
  .object({ ...operationSchema.pick(only(TENANT_FACING_FIELDS.operation)).shape, error: errorCodeOnlySchema })
  .meta({ description: `A workflow operation of the tenant.${TENANT_FACING}` });

const tenantFacingExportSchema = exportSchema
  .omit({ requestedBy: true })
  .extend({ error: errorCodeOnlySchema })
  .meta({ description: `A GDPR export of the tenant.${TENANT_FACING}` });

const tenantFacingExportPageSchema = z.object({ items: z.array(tenantFacingExportSchema), nextCursor: z.string().nullable() });

const tenantFacingCertificateSchema = deletionCertificateSchema
  .extend({
    deletion: deletionCertificateSchema.shape.deletion.pick(only(TENANT_FACING_FIELDS.certificateDeletion)).meta({ description: 'The soft delete: when it was asked, the retention and the deadline.' }),
    legalHolds: z.array(z.object({ event: z.enum(['place_legal_hold', 'release_legal_hold']), at: z.string() })).meta({ description: 'When legal holds were placed and released.' }),
    sha256: z.string().meta({ description: 'SHA-256 of the whole certificate as operators read it (with who asked and the holds\' reasons): ask the operator for it to recompute the hash.' }),
  })
  .meta({ description: `The proof of the tenant's erasure.${TENANT_FACING}` });

type _TenantFacingTenantMatches = Assert<Same<z.output<typeof tenantFacingTenantSchema>, ReturnType<typeof tenantFacingTenant>>>;
type _TenantFacingAuditEntryMatches = Assert<Same<z.output<typeof tenantFacingAuditEntrySchema>, ReturnType<typeof tenantFacingAuditEntry>>>;

/** components.schemas, by name: request bodies are described as callers send them (defaults optional). */
export const REQUEST_SCHEMAS: Readonly<Record<string, ZodType>> = {
  CreateTenantRequest: createTenantBodySchema,
  TransitionRequest: transitionBodySchema,
  ReactivateRequest: reactivateBodySchema,
  AcquireQueryLeaseRequest: acquireLeaseBodySchema,
  ChangePlanRequest: changePlanBodySchema,
  StartExportRequest: startExportBodySchema,
  InitiateDeletionRequest: initiateDeletionBodySchema,
  LegalHoldRequest: legalHoldBodySchema,
  ReportUsageRequest: reportUsageBodySchema,
  StripeEvent: stripeEventSchema,
};
export const RESPONSE_SCHEMAS: Readonly<Record<string, ZodType>> = {
  TenantState: tenantStateSchema,
  LifecycleEvent: lifecycleEventSchema,
  PlanId: planIdSchema,
  Usage: usageSchema,
  PlanLimits: planLimitsSchema,
  Tenant: tenantSchema,
  TenantPage: tenantPageSchema,
  AuditEntry: auditEntrySchema,
  AuditEntryPage: auditEntryPageSchema,
  ComplianceViolation: complianceViolationSchema,
  ComplianceViolationPage: complianceViolationPageSchema,
  AccessDecision: accessDecisionSchema,
  QueryLease: queryLeaseSchema,
  UsageReport: usageReportSchema,
  PlanChangeAccepted: planChangeAcceptedSchema,
  Operation: operationSchema,
  ExportAccepted: exportAcceptedSchema,
  ReactivationAccepted: reactivationAcceptedSchema,
  Export: exportSchema,
  ExportPage: exportPageSchema,
  DeletionCertificate: deletionCertificateSchema,
  TenantFacingTenant: tenantFacingTenantSchema,
  TenantFacingAuditEntry: tenantFacingAuditEntrySchema,
  TenantFacingAuditEntryPage: tenantFacingAuditEntryPageSchema,
  TenantFacingOperation: tenantFacingOperationSchema,
  TenantFacingExport: tenantFacingExportSchema,
  TenantFacingExportPage: tenantFacingExportPageSchema,
  TenantFacingDeletionCertificate: tenantFacingCertificateSchema,
  ReconcileReport: reconcileReportSchema,
  Health: healthSchema,
  StripeWebhookReceived: stripeWebhookReceivedSchema,
  Error: errorSchema,
  GatewayError: gatewayErrorSchema,
};

// ---------------------------------------------------------------------------------------------------------
// The per-route table.
// ---------------------------------------------------------------------------------------------------------

type SuccessHeader = 'ETag' | 'Location';

/** What the OpenAPI document says of a route besides the route table (whose `access` it reads). */
export interface RouteSpec {
  readonly params?: ZodObject;
  readonly query?: ZodObject;
  readonly body?: ZodType;
  /** Honours If-Match (optimistic concurrency on the tenant version). */
  readonly ifMatch?: boolean;
  /** `schema` is omitted exactly for 204 (No Content). */
  readonly success: {
    readonly status: number;
    readonly description: string;
    readonly schema?: ZodType;
    /** What a tenant-scoped token gets instead of `schema` (functions/tenants/tenant-view.ts): the answer is then one of the two. */
    readonly tenantFacingSchema?: ZodType;
    readonly headers?: readonly SuccessHeader[];
  };
  /** Every error code the route can answer with; statuses follow from ERROR_CODES. */
  readonly errors: readonly ErrorCode[];
  readonly description?: string;
}

export const ROUTE_SPECS: Readonly<Record<string, RouteSpec>> = {
  ChangePlan: {
    params: tenantPathSchema,
    body: changePlanBodySchema,
    ifMatch: true,
    success: { status: 202, description: 'The plan change started, or (a period-end downgrade) was scheduled; follow the operation.', schema: planChangeAcceptedSchema, headers: ['Location'] },
    errors: apiRouteErrors(
      { body: true, idempotent: true },
      'TENANT_NOT_FOUND', 'SAME_PLAN', 'INVALID_EFFECTIVE', 'USAGE_EXCEEDS_PLAN', 'ILLEGAL_TRANSITION', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS, 'PLAN_CHANGE_SCHEDULED',
      'WORKFLOW_UNAVAILABLE', 'SCHEDULING_UNAVAILABLE', 'BILLING_REJECTED', 'BILLING_UNAVAILABLE',
    ),
    description:
      'Upgrades are immediate (prorated, invoiced now); downgrades need usage within the new limits (else 422 listing every violation). ' +
      'The workflow opens a read-only window (an immediate change opens it with the request: the 202 comes back with it open), waits for in-flight query leases to end (`drainTimeoutSeconds`, default 30, at most 300: the longest lease), provisions, bills and commits; any failure rolls the tenant back to active on its old plan. ' +
      'With `force: true` the drain does not wait: the tenant\'s live leases are revoked (recorded on the operation as `facts.revokedLeases`; their holders\' releases answer 204, their queries are not stopped) and every history entry of the change carries `forced: true`. ' +
      'A downgrade defaults to the end of the billing period: it is scheduled (202, `status: scheduled`, `effectiveAt`), billing moves the price at that date, and the tenant keeps its plan and limits until then, when the same workflow runs ' +
      '(if usage no longer fits the new plan then, the change is cancelled and billing put back). While a change is scheduled, other plan changes answer 409 PLAN_CHANGE_SCHEDULED. ' +
      'With `dryRun: true` nothing changes, and `drain` says what the drain would do now (wait for, or with `force` revoke, `liveLeases` held by `holders`); money in the preview (`billing.amountDueNow`, `billing.lines[].amount`) and on the operation (`facts.billingChange.amountInvoiced`) is an integer in the currency\'s minor unit (cents for USD), negative for a credit.',
  },
  CancelScheduledPlanChange: {
    params: tenantPathSchema,
    body: transitionBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The cancelled operation (`status: cancelled`).', schema: operationSchema },
    errors: apiRouteErrors(
      { body: true },
      'TENANT_NOT_FOUND', 'NO_SCHEDULED_PLAN_CHANGE', 'OPERATION_IN_PROGRESS', 'PLAN_CHANGE_STARTED', ...IF_MATCH_ERRORS, 'CANCELLATION_INCOMPLETE', 'BILLING_REJECTED',
    ),
    description:
      'Releases the billing schedule (the price stays), deletes the one-shot schedule and forgets the change; the tenant stays on its plan. ' +
      'The body is optional: `{ "reason" }` goes to the history entry `cancel_scheduled_plan_change`. Once the change has started at the period end, 409 OPERATION_IN_PROGRESS names its operation.',
  },
  InitiateDeletion: {
    params: tenantPathSchema,
    body: initiateDeletionBodySchema,
    ifMatch: true,
    success: { status: 202, description: 'The tenant, soft-deleted (with its `deletion`): accepted, the hard delete runs at `deletion.deadline`.', schema: tenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors(
      { body: true, idempotent: true },
      'TENANT_NOT_FOUND', 'INVALID_RETENTION', 'ILLEGAL_TRANSITION', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS, 'BILLING_REJECTED', 'BILLING_UNAVAILABLE', 'SCHEDULING_UNAVAILABLE',
    ),
    description:
      'From active or suspended: access is blocked and query leases refused at once, the billing subscription is cancelled now (the unused time credited), a plan change scheduled for the period end is cancelled, ' +
      'and two one-shot schedules are made: the hard delete at the deadline and an enforcement check after the window. `retentionDays` 30–90 (default 30; at most 30 for a GDPR tenant). All or nothing: on any failure nothing is changed.',
  },
  CancelDeletion: {
    params: tenantPathSchema,
    body: transitionBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The tenant, active again with its data; billing restored.', schema: tenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors({ body: true }, 'TENANT_NOT_FOUND', 'NOT_DELETING', 'DELETION_DEADLINE_PASSED', 'ERASURE_STARTED', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS, 'BILLING_REJECTED', 'BILLING_UNAVAILABLE'),
    description:
      'Within retention (before `deletion.deadline`): a new billing subscription on the tenant\'s plan, then `cancel_deletion` and `complete_reactivation` in one change, and the schedules deleted. ' +
      'After the deadline 409 DELETION_DEADLINE_PASSED says when; once a hard delete has begun purging (from the window\'s opening, even if it failed) 409 ERASURE_STARTED. The body is optional: `{ "reason" }` goes to the history.',
  },
  PlaceLegalHold: {
    params: tenantPathSchema,
    body: legalHoldBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The tenant, with its `legalHold`.', schema: tenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors({ body: true }, 'TENANT_NOT_FOUND', 'TENANT_DELETED', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS),
    description: 'While a hold is set the hard delete does not run (its firing is recorded and re-armed). `place_legal_hold` goes to the history with the reason and who (`by`, default the caller). Placing it again restates it.',
  },
  ReleaseLegalHold: {
    params: tenantPathSchema,
    body: transitionBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The tenant, without a legal hold.', schema: tenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors({ body: true }, 'TENANT_NOT_FOUND', 'NO_LEGAL_HOLD', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS),
    description:
      'A soft-deleted tenant is then hard-deleted at the later of its deadline and a minute from now (the soonest a schedule fires); past the deadline the enforcement window moves to that time (a hold is not a violation). `release_legal_hold` goes to the history.',
  },
  ReactivateTenant: {
    params: tenantPathSchema,
    body: reactivateBodySchema,
    ifMatch: true,
    success: { status: 202, description: 'The reactivation started; follow it at `/operations/{operationId}`.', schema: reactivationAcceptedSchema, headers: ['Location'] },
    errors: apiRouteErrors(
      { body: true, idempotent: true },
      'TENANT_NOT_FOUND', 'NOT_REACTIVATABLE', 'OPERATION_IN_PROGRESS', 'DELETION_DEADLINE_PASSED', 'ERASURE_STARTED', 'DATA_DELETED', 'FRESH_START_UNAVAILABLE', 'DETAILS_REQUIRED', 'DETAILS_NOT_ACCEPTED', 'USAGE_EXCEEDS_PLAN', ...IF_MATCH_ERRORS, 'WORKFLOW_UNAVAILABLE',
    ),
    description:
      'Win-back, as a workflow. From suspended: resumed with its data. From soft-deleted (deleting) within retention: `restoreData: true` (default) brings its data back; `false` purges it first through every data source (with a purge certificate) and starts fresh; both cancel the soft delete\'s schedules. ' +
      'From deleted: a fresh start only (`restoreData: false`, with `name`, `email` and `plan`, which were erased); asking to restore is 409 DATA_DELETED with when the data was deleted. ' +
      'A `plan` must exist; coming back with data on a plan asked for, the usage must fit it (422 USAGE_EXCEEDS_PLAN listing every violation; without `plan` it keeps its own). Billing is recreated (a new subscription, or customer for a deleted tenant) and the plan\'s resources provisioned; any failure returns the tenant to where it came from with what was made undone and the schedules re-armed. ' +
      'Racing a hard delete, exactly one wins: the loser is 409 ERASURE_STARTED or OPERATION_IN_PROGRESS here, and a hard delete that lost records its operation `cancelled`.',
  },
  StartExport: {
    params: tenantPathSchema,
    body: startExportBodySchema,
    ifMatch: true,
    success: { status: 202, description: 'The export started; follow it at `/exports/{exportId}`.', schema: exportAcceptedSchema, headers: ['Location'] },
    errors: apiRouteErrors({ body: true, idempotent: true }, 'TENANT_NOT_FOUND', 'ILLEGAL_TRANSITION', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS, 'WORKFLOW_UNAVAILABLE'),
    description:
      'GDPR right of access and portability (Art. 15/20): every data source of the tenant as gzip NDJSON parts, a manifest (counts, sha256 per part) and a README, verified against the stored bytes. ' +
      'Allowed where the lifecycle table has `initiate_export` (the tenant is held by the export meanwhile and goes back to the state it came from); elsewhere 409 ILLEGAL_TRANSITION, and while another operation owns the tenant 409 OPERATION_IN_PROGRESS. ' +
      'Plan changes and other changes are refused while it runs. The body is optional: `{ "reason" }` goes to the history.',
  },
  ListExports: {
    params: tenantPathSchema,
    query: pageQuerySchema,
    success: { status: 200, description: "One page of the tenant's exports, newest first.", schema: exportPageSchema, tenantFacingSchema: tenantFacingExportPageSchema },
    errors: apiRouteErrors({ body: false }, 'TENANT_NOT_FOUND', 'INVALID_CURSOR'),
  },
  GetExport: {
    params: exportPathSchema,
    success: { status: 200, description: 'The export, with download URLs once it succeeded.', schema: exportSchema, tenantFacingSchema: tenantFacingExportSchema },
    errors: apiRouteErrors({ body: false }, 'EXPORT_NOT_FOUND', 'EXPORT_EXPIRED'),
    description:
      "Progress per source while it runs; the manifest summary once written; once succeeded, presigned download URLs for the manifest, README and every part, valid 15 minutes and made fresh on each request. Operators read any export; a tenant-scoped token its own tenant's, and another tenant's is 404 EXPORT_NOT_FOUND (as if it did not exist).",
  },
  GetDeletionCertificate: {
    params: tenantPathSchema,
    success: { status: 200, description: 'The deletion certificate.', schema: deletionCertificateSchema, tenantFacingSchema: tenantFacingCertificateSchema },
    errors: apiRouteErrors({ body: false }, 'TENANT_NOT_FOUND', 'DELETION_CERTIFICATE_NOT_FOUND'),
    description:
      'Written in the same transaction as `complete_deletion` and the tombstone. Recompute `sha256` to check it. Until the tenant is deleted, 404 DELETION_CERTIFICATE_NOT_FOUND says its state and, while it is deleting, when its hard delete is due.',
  },
  ReconcileBilling: {
    success: { status: 200, description: 'What the reconciliation read and changed.', schema: reconcileReportSchema },
    errors: apiRouteErrors({ body: false, idempotent: true }, 'BILLING_UNAVAILABLE'),
    description:
      "For each tenant in a billable state (active, suspended) with a linked subscription: read the subscription's status through billing and apply the dunning ladder, as a Stripe event would " +
      '(catching events never delivered). Daily on AWS; on demand here. Transitions it makes name `billing:reconcile` as actor. Operator tokens only.',
  },
  ListComplianceViolations: {
    query: listViolationsQuerySchema,
    success: { status: 200, description: 'One page of compliance violations, oldest detected first.', schema: complianceViolationPageSchema },
    errors: apiRouteErrors({ body: false }, 'INVALID_CURSOR'),
    description:
      'Missed deletion deadlines across tenants: a hard delete that ran, or was found not run, after its enforcement window closed (found by the hard delete itself, the enforcement check or the hourly sweeper; each is also counted in the ComplianceViolations metric, which is alarmed). ' +
      '`from` and `to` (ISO 8601, both inclusive) filter on `detectedAt`; pass `nextCursor` back unchanged with the same filter for the next page. Operator tokens only.',
  },
  GetOperation: {
    params: operationPathSchema,
    success: { status: 200, description: 'The operation.', schema: operationSchema, tenantFacingSchema: tenantFacingOperationSchema },
    errors: apiRouteErrors({ body: false }, 'OPERATION_NOT_FOUND'),
    description: "Operators read any operation; a tenant-scoped token reads its own tenant's, and another tenant's is 404 OPERATION_NOT_FOUND (as if it did not exist).",
  },
  StripeWebhook: {
    body: stripeEventSchema,
    success: { status: 200, description: 'The event was verified and processed (or recognised as a duplicate, stale or of a type that changes nothing).', schema: stripeWebhookReceivedSchema },
    errors: ['STRIPE_SIGNATURE_INVALID', 'MALFORMED_UTF8', 'MALFORMED_JSON', 'VALIDATION_FAILED', 'STRIPE_EVENT_IN_PROGRESS', 'PAYLOAD_TOO_LARGE', 'TENANT_BUSY', 'INTERNAL_ERROR'],
    description:
      "For Stripe (a webhook endpoint or `stripe listen --forward-to`), not for people: no token, the `Stripe-Signature` header is verified with the endpoint's signing secret on the exact bytes of the body, within 300 s (Stripe's default tolerance). " +
      'Bodies up to API Gateway\'s 10 MB are taken (not the 64 KiB of other routes). No Idempotency-Key: a redelivered event is recognised by its id. ' +
      'A 200 means the effect is stored; a 5xx makes Stripe redeliver (for up to 3 days).',
  },
  Health: {
    success: { status: 200, description: 'The API is up.', schema: healthSchema },
    errors: [],
    description: 'Reads nothing: use it for load balancer and uptime checks.',
  },
  CreateTenant: {
    body: createTenantBodySchema,
    success: { status: 201, description: 'The tenant, created active with version 1.', schema: tenantSchema, headers: ['Location', 'ETag'] },
    errors: apiRouteErrors({ body: true, idempotent: true }, 'TENANT_EXISTS', 'SUBSCRIPTION_ALREADY_LINKED', 'BILLING_LINK_MISMATCH', 'BILLING_REJECTED', 'BILLING_UNAVAILABLE'),
    description:
      'Without `tenantId`, one is generated (`tnt-` and 12 base-36 characters; derived from the caller and the `Idempotency-Key` when one is sent, so a retry is the same tenant). With Stripe configured, the tenant\'s Stripe customer and its subscription on the plan\'s price are created first (idempotent on the tenant id; invoices sent, 30 days to pay); a plan without a configured price (the free plan by default) gets none and no `billing`. Without Stripe, the local ledger gives every tenant a local account (`cus_local_...`). `billing` links existing Stripe ids instead of creating: the customer, and its subscription (else its one active subscription) whose item is on the plan\'s price, checked with Stripe (`subscriptionItemId` is optional now and checked when given). The tenant, its audit entry and its subscription\'s link (how Stripe events find it) are stored in one transaction.',
  },
  ListTenants: {
    query: listTenantsQuerySchema,
    success: { status: 200, description: 'One page of tenants: by state in lifecycle order, oldest in the state first.', schema: tenantPageSchema },
    errors: apiRouteErrors({ body: false }, 'INVALID_CURSOR'),
  },
  GetTenant: {
    params: tenantPathSchema,
    success: { status: 200, description: 'The tenant.', schema: tenantSchema, tenantFacingSchema: tenantFacingTenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors({ body: false }, 'TENANT_NOT_FOUND'),
  },
  TenantHistory: {
    params: tenantPathSchema,
    query: pageQuerySchema,
    success: { status: 200, description: 'One page of the audit trail, newest first.', schema: auditEntryPageSchema, tenantFacingSchema: tenantFacingAuditEntryPageSchema },
    errors: apiRouteErrors({ body: false }, 'TENANT_NOT_FOUND', 'INVALID_CURSOR'),
  },
  SuspendTenant: {
    params: tenantPathSchema,
    body: transitionBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The tenant, now suspended.', schema: tenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors(
      { body: true, idempotent: true },
      'TENANT_NOT_FOUND', 'ILLEGAL_TRANSITION', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS, 'LIFECYCLE_INVARIANT_BROKEN',
    ),
    description: 'active → suspended. Suspended tenants keep read access.',
  },
  ResumeTenant: {
    params: tenantPathSchema,
    body: transitionBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The tenant, active again.', schema: tenantSchema, headers: ['ETag'] },
    errors: apiRouteErrors(
      { body: true, idempotent: true },
      'TENANT_NOT_FOUND', 'ILLEGAL_TRANSITION', 'OPERATION_IN_PROGRESS', ...IF_MATCH_ERRORS, 'LIFECYCLE_INVARIANT_BROKEN',
    ),
    description: 'suspended → reactivating → active, as one atomic change with two audit entries.',
  },
  CheckAccess: {
    params: tenantPathSchema,
    success: { status: 200, description: 'The access decision, with the plan limits.', schema: accessDecisionSchema },
    errors: apiRouteErrors({ body: false }, 'TENANT_NOT_FOUND'),
  },
  ReportUsage: {
    params: tenantPathSchema,
    body: reportUsageBodySchema,
    ifMatch: true,
    success: { status: 200, description: 'The usage recorded, with any limits it exceeds.', schema: usageReportSchema },
    errors: apiRouteErrors({ body: true }, 'TENANT_NOT_FOUND', 'MEASURED_IN_FUTURE', 'TENANT_BLOCKED', ...IF_MATCH_ERRORS),
    description:
      'For the application plane (its tenant token, or an operator): every metric as measured now. Idempotent; reports may arrive out of order, an older one than the last recorded changes nothing. ' +
      '`measuredAt` up to 5 minutes ahead of our clock is recorded as measured now (more is 400 MEASURED_IN_FUTURE). An operator\'s report wins over the tenant\'s: it is applied whatever the tenant reported (unless an operator\'s report measured later is recorded), and for an hour after it the tenant\'s own reports are not applied (`applied: false`, `notApplied.code` OPERATOR_CORRECTION_HOLDS). ' +
      'Downgrades are checked against the recorded usage, and a downgrade scheduled for the period end is checked again then.',
  },
  AcquireQueryLease: {
    params: tenantPathSchema,
    body: acquireLeaseBodySchema,
    success: { status: 201, description: 'The lease, live until released or until `expiresAt`.', schema: queryLeaseSchema },
    errors: apiRouteErrors({ body: true, idempotent: true }, 'TENANT_NOT_FOUND', 'TENANT_READ_ONLY', 'TENANT_BLOCKED', 'LEASE_LIMIT_REACHED'),
    description:
      'For the application plane, one lease per query: a plan change refuses new leases once its read-only window starts and waits until no lease is live before migrating the tenant (an operator may force it not to wait: the leases are then revoked). ' +
      'Release the lease when the query is done; it expires on its own after `ttlSeconds`. During a read-only window the answer is 409 `TENANT_READ_ONLY` with a `Retry-After` header (seconds). ' +
      'A tenant holds at most `MAX_LIVE_LEASES_PER_TENANT` live leases at once (default 100): one more is 429 `LEASE_LIMIT_REACHED`, with `Retry-After` (seconds until the soonest live lease expires).',
  },
  ReleaseQueryLease: {
    params: leasePathSchema,
    success: { status: 204, description: 'Released; also when the lease was unknown, expired or already released.' },
    errors: apiRouteErrors({ body: false }),
    description: 'Idempotent: always safe to retry.',
  },
};

// ---------------------------------------------------------------------------------------------------------
// Document types (the parts this module builds).
// ---------------------------------------------------------------------------------------------------------

export type JsonSchema = { [key: string]: unknown };
export type Reference = { readonly $ref: string };
export interface ParameterObject {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly required: boolean;
  readonly description?: string;
  readonly schema: JsonSchema;
}
export interface ResponseObject {
  readonly description: string;
  readonly headers?: Record<string, Reference>;
  readonly content?: Record<string, { readonly schema: JsonSchema | Reference }>;
}
export interface OperationObject {
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
  readonly tags: string[];
  readonly security?: Record<string, string[]>[];
  readonly parameters?: (ParameterObject | Reference)[];
  readonly requestBody?: { readonly required: boolean; readonly content: Record<string, { readonly schema: Reference }> };
  readonly responses: Record<string, ResponseObject>;
}
export type PathItem = Partial<Record<Lowercase<HttpMethod>, OperationObject>>;
export interface OpenApiDocument {
  readonly openapi: string;
  readonly info: { readonly title: string; readonly version: string; readonly description: string; readonly license: { readonly name: string; readonly identifier: string } };
  readonly servers: { readonly url: string; readonly description: string; readonly variables?: Record<string, { readonly default: string; readonly description: string }> }[];
  readonly security: Record<string, string[]>[];
  readonly tags: { readonly name: string; readonly description: string }[];
  readonly paths: Record<string, PathItem>;
  readonly components: {
    readonly securitySchemes: Record<string, JsonSchema>;
    readonly parameters: Record<string, ParameterObject>;
    readonly headers: Record<string, JsonSchema>;
    readonly schemas: Record<string, JsonSchema>;
  };
}

// ---------------------------------------------------------------------------------------------------------
// Building.
// ---------------------------------------------------------------------------------------------------------

const schemaRef = (name: string): Reference => ({ $ref: `#/components/schemas/${name}` });

/**
 * The success body: `schema`, or with a tenant-facing one, either (operators get the first, tenant-scoped tokens
 * the second; anyOf, as the tenant's fields are a subset of the operator's and a whole record matches both).
 */
function successSchema(schema: ZodType, tenantFacing: ZodType | undefined, schemas: ComponentSchemas): Reference | { anyOf: Reference[] } {
  const operators = schemaRef(componentName(schema, schemas, 'response', 'response'));
  return tenantFacing ? { anyOf: [operators, schemaRef(componentName(tenantFacing, schemas, 'response', 'tenant-facing response'))] } : operators;
}

/** Convert a set of named zod schemas into components.schemas, cross-referencing one another by name. */
function componentSchemas(named: Readonly<Record<string, ZodType>>, io: 'input' | 'output'): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, {
    io,
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
    override: ({ jsonSchema }) => {
      if (io !== 'output') return;
      // Responses: the format says enough (zod's date-time and email patterns are for validating input), input
      // defaults mean nothing in a response, and responses may gain fields, so objects are not closed.
      if (jsonSchema.format !== undefined) delete jsonSchema.pattern;
      delete jsonSchema.default;
      if (jsonSchema.additionalProperties === false) delete jsonSchema.additionalProperties;
    },
  });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(schemas)) {
    const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
    out[id] = rest;
  }
  return out;
}

/** The named schemas the document's components are built from: request bodies, and responses. */
export interface ComponentSchemas {
  readonly request: Readonly<Record<string, ZodType>>;
  readonly response: Readonly<Record<string, ZodType>>;
}

/** The component name a route table schema was registered under; throws for a schema that is not one. */
function componentName(schema: ZodType, schemas: ComponentSchemas, io: keyof ComponentSchemas, what: string): string {
  const found = Object.entries(schemas[io]).find(([, candidate]) => candidate === schema);
  if (!found) throw new Error(`OpenAPI: the ${what} schema is not registered in ${io === 'request' ? 'REQUEST_SCHEMAS' : 'RESPONSE_SCHEMAS'} in functions/api/openapi.ts.`);
  return found[0];
}

const PARAMETER_DESCRIPTIONS: Readonly<Record<string, string>> = {
  tenantId: `Tenant id: ${TENANT_ID_RULE}.`,
  state: 'Only tenants in this state; all states, in lifecycle order, when omitted.',
  limit: 'Page size, 1 to 100 (default 25).',
  cursor: '`nextCursor` of the previous page, unchanged.',
  leaseId: 'Lease id, as returned by POST /tenants/{tenantId}/leases.',
};

/** Path or query parameters from a strict zod object (as callers send them). */
function parametersOf(schema: ZodObject, location: 'path' | 'query'): ParameterObject[] {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as JsonSchema;
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, propertySchema]) => {
    const { description = PARAMETER_DESCRIPTIONS[name], ...rest } = propertySchema as JsonSchema & { description?: string };
    return { name, in: location, required: location === 'path' || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

function pathParameterNames(path: string): string[] {
  return [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item) => b.includes(item));
}

/** Throw unless the route's entry agrees with the route table and with what `apiRoute` does for it. */
function checkSpec(route: RouteDefinition, spec: RouteSpec): void {
  const fail = (why: string): never => {
    throw new Error(`OpenAPI: ROUTE_SPECS.${route.id} (${route.method} ${route.path}) ${why}`);
  };
  const has = (codes: readonly ErrorCode[]) => codes.every((code) => spec.errors.includes(code));
  const hasAny = (codes: readonly ErrorCode[]) => codes.some((code) => spec.errors.includes(code));
  if (new Set(spec.errors).size !== spec.errors.length) fail('lists an error code twice.');
  if (hasAny(['RATE_LIMITED'])) fail('lists RATE_LIMITED: every authenticated route answers it, and its 429 response is added for all of them.');
  if (route.authenticated && !has(AUTH_ERRORS)) fail(`is authenticated: its errors must include ${AUTH_ERRORS.join(', ')}.`);
  if (!route.authenticated && hasAny(AUTH_ERRORS)) fail('is public: it cannot answer 401 or 403.');
  if (honoursIdempotencyKey(route) && !has(IDEMPOTENCY_ERRORS)) fail(`is a POST (Idempotency-Key): its errors must include ${IDEMPOTENCY_ERRORS.join(', ')}.`);
  if (!honoursIdempotencyKey(route) && hasAny(IDEMPOTENCY_ERRORS)) {
    fail(route.method === 'POST' ? 'is verified by its signature: it takes no Idempotency-Key (it deduplicates on what it verified).' : 'is not a POST: Idempotency-Key applies to POST routes only.');
  }
  if (!route.authenticated && route.verifiedBy === undefined && reachesTable(route)) fail('is public without verifiedBy: it must not reach the table.');
  if (route.verifiedBy === 'stripe-signature' && !has(['STRIPE_SIGNATURE_INVALID'])) fail('is verified by its Stripe signature: its errors must include STRIPE_SIGNATURE_INVALID.');
  if (spec.body && route.verifiedBy === undefined && !has(JSON_BODY_ERRORS)) fail(`takes a JSON body: its errors must include ${JSON_BODY_ERRORS.join(', ')}.`);
  if (!spec.body && route.authenticated && !has(NO_BODY_ERRORS)) fail(`takes no body: its errors must include ${NO_BODY_ERRORS.join(', ')}.`);
  if (spec.ifMatch && !has(IF_MATCH_ERRORS)) fail(`honours If-Match: its errors must include ${IF_MATCH_ERRORS.join(', ')}.`);
  const templateNames = pathParameterNames(route.path);
  const schemaNames = spec.params ? Object.keys(spec.params.shape) : [];
  if (!sameSet(templateNames, schemaNames)) fail(`has path parameters [${schemaNames.join(', ')}] but its path template has [${templateNames.join(', ')}].`);
  if (route.access === 'operator-or-own-tenant' && !schemaNames.includes('tenantId')) fail("is 'operator-or-own-tenant' but has no tenantId path parameter.");
  if (route.access === 'operator-or-owner-of-resource' && schemaNames.includes('tenantId')) fail("is 'operator-or-owner-of-resource' but names its tenant in the path: use 'operator-or-own-tenant'.");
  if (spec.success.status < 200 || spec.success.status > 299) fail(`has success status ${spec.success.status}.`);
  if ((spec.success.status === 204) !== (spec.success.schema === undefined)) fail('must have a response schema exactly when its success status is not 204.');
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Not authenticated',
  403: 'Not allowed',
  404: 'Not found',
  405: 'Method not allowed',
  409: 'Conflict',
  410: 'Gone',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable',
  429: 'Too many requests',
  500: 'Internal error',
};

/**
 * What API Gateway's JWT authorizer answers itself on AWS, where the local adapter answers in the API's error
 * shape (API Gateway developer guide, "Control access to HTTP APIs with JWT authorizers" and "Troubleshooting
 * issues with HTTP API JWT authorizers": its `www-authenticate` header says why).
 */
const GATEWAY_NOTES: Readonly<Record<number, string>> = {
  401: 'On AWS, API Gateway itself answers a request without a token, or with one it cannot verify (signature, issuer, audience, expiry): `{"message":"Unauthorized"}`, with a `www-authenticate` header saying why (the local adapter answers TOKEN_MISSING, TOKEN_INVALID or TOKEN_EXPIRED).',
  403: 'On AWS, a valid token without any of the route\'s scopes gets API Gateway\'s own 403 `{"message":"Forbidden"}` (`www-authenticate: Bearer ... error="insufficient_scope"`); the local adapter answers INSUFFICIENT_SCOPE in the error shape.',
};

function errorResponses(route: RouteDefinition, spec: RouteSpec): Record<string, ResponseObject> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of ERROR_CODE_NAMES.filter((name) => spec.errors.includes(name))) {
    const { status } = ERROR_CODES[code];
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, ResponseObject> = {};
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    const lines = codes.map((code) => `- \`${code}\`: ${ERROR_CODES[code].description}`);
    const note = route.authenticated ? GATEWAY_NOTES[status] : undefined;
    const retryAfter = codes.some((code) => (ERROR_CODES[code] as { retryAfter?: true }).retryAfter);
    responses[String(status)] = {
      description: [`${STATUS_TEXT[status] ?? `HTTP ${status}`}. Error codes:`, ...lines, ...(note ? ['', note] : [])].join('\n'),
      ...(retryAfter ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
      content: { 'application/json': { schema: note ? { oneOf: [schemaRef('Error'), schemaRef('GatewayError')] } : schemaRef('Error') } },
    };
  }
  responses['431'] = {
    description: `Request header fields too large: \`REQUEST_HEADERS_TOO_LARGE\`: ${ERROR_CODES.REQUEST_HEADERS_TOO_LARGE.description}`,
    content: { 'application/json': { schema: { oneOf: [schemaRef('Error'), schemaRef('GatewayError')] } } },
  };
  // Every authenticated route takes a token from its caller's bucket (apiRoute); every route is under the stage throttle.
  const limited: ErrorCode[] = [...(byStatus.get(429) ?? []), ...(route.authenticated ? (['RATE_LIMITED'] as const) : [])];
  const throttle = "Throttled by API Gateway (the stage's rate and burst limits, shared by every caller; AWS only): `{\"message\":\"Too Many Requests\"}`. Retry with backoff.";
  responses['429'] = limited.length
    ? {
        description: ['Too many requests. Error codes:', ...limited.map((code) => `- \`${code}\`: ${ERROR_CODES[code].description}`), '', throttle].join('\n'),
        headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } },
        content: { 'application/json': { schema: { oneOf: [schemaRef('Error'), schemaRef('GatewayError')] } } },
      }
    : { description: throttle, content: { 'application/json': { schema: schemaRef('GatewayError') } } };
  return responses;
}

const ACCESS_TEXT: Readonly<Record<RouteAccessLevel, string>> = {
  public: 'No token needed.',
  operator: 'Needs an operator token.',
  'operator-or-own-tenant': 'Needs an operator token, or a tenant-scoped token for this tenant.',
  'operator-or-owner-of-resource': "Needs an operator token, or a tenant-scoped token of the tenant the resource belongs to (another tenant's is 404).",
};

/** The header a route verified by a Stripe signature requires. */
const STRIPE_SIGNATURE_PARAMETER: ParameterObject = {
  name: 'Stripe-Signature',
  in: 'header',
  required: true,
  description: "`t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">` with the endpoint's signing secret, as Stripe sends it (https://docs.stripe.com/webhooks#verify-events).",
  schema: { type: 'string' },
};

function operationFor(route: RouteDefinition, spec: RouteSpec, schemas: ComponentSchemas): OperationObject {
  checkSpec(route, spec);
  const parameters: (ParameterObject | Reference)[] = [
    ...(spec.params ? parametersOf(spec.params, 'path') : []),
    ...(spec.query ? parametersOf(spec.query, 'query') : []),
    ...(honoursIdempotencyKey(route) ? [{ $ref: `#/components/parameters/${IDEMPOTENCY_KEY_PARAMETER}` }] : []),
    ...(route.verifiedBy === 'stripe-signature' ? [STRIPE_SIGNATURE_PARAMETER] : []),
    ...(spec.ifMatch ? [{ $ref: `#/components/parameters/${IF_MATCH_PARAMETER}` }] : []),
  ];
  const successHeaders: Record<string, Reference> = {};
  for (const header of spec.success.headers ?? []) successHeaders[header] = { $ref: `#/components/headers/${header}` };
  if (honoursIdempotencyKey(route)) successHeaders['Idempotent-Replayed'] = { $ref: '#/components/headers/IdempotentReplayed' };
  const success: ResponseObject = {
    description: spec.success.description,
    ...(Object.keys(successHeaders).length ? { headers: successHeaders } : {}),
    ...(spec.success.schema ? { content: { 'application/json': { schema: successSchema(spec.success.schema, spec.success.tenantFacingSchema, schemas) } } } : {}),
  };
  return {
    operationId: route.id,
    summary: route.summary,
    description: [ACCESS_TEXT[route.access], spec.description].filter(Boolean).join(' '),
    tags: [route.path.split('/')[1] ?? 'api'],
    // Any one of the route's scopes will do (OpenAPI: the entries of `security` are alternatives).
    security: routeScopes(route, DEFAULT_CLAIM_MAPPING).map((scope) => ({ [SECURITY_SCHEME]: [scope] })),
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body
      ? { requestBody: { required: false, content: { 'application/json': { schema: schemaRef(componentName(spec.body, schemas, 'request', 'request body')) } } } }
      : {}),
    responses: { [String(spec.success.status)]: success, ...errorResponses(route, spec) },
  };
}

const DESCRIPTION = `Creates tenants and moves them through their lifecycle (suspend, resume), and answers the application plane's access checks. Generated from functions/api/routes.ts and the handlers' zod schemas by \`npm run openapi\`.

**Tokens.** Every route but \`GET /health\` and the Stripe webhook needs \`Authorization: Bearer <JWT access token>\`. A token with the operator scope may do everything; a token with the tenant scope acts only for the tenant its \`tenant_id\` claim names (reads of that tenant, its usage reports, query leases and exports). Each operation lists the scopes it accepts (any one of them).

**Errors.** Every error is \`{ "error": { "code", "message", "details"? } }\` with a stable code (see the Error schema). Unknown paths answer 404 \`ROUTE_NOT_FOUND\`; a known path under another method answers 405 \`METHOD_NOT_ALLOWED\` with an \`Allow\` header (both after authentication).

**Idempotency.** Every POST honours \`Idempotency-Key\`: a retry with the same key and request replays the first response (header \`Idempotent-Replayed: true\`).

**Concurrency.** Tenants carry a \`version\` (their ETag). Send it back as \`If-Match\` on suspend and resume to act only on the version you read.

**Evolution.** Responses may gain fields: ignore the ones you do not know. Requests are strict: unknown fields are refused.`;

/**
 * The OpenAPI 3.1 document for ROUTES. Throws (naming the route and what to fix) if a route has no ROUTE_SPECS
 * entry, an entry has no route, a method and path appear twice, an entry breaks the conventions `apiRoute`
 * enforces (see checkSpec), a schema is not registered, or a request and a response schema share a name.
 * The parameters exist so that tests can hand it a broken table; `npm run openapi` uses the defaults.
 */
export function buildOpenApiDocument(
  routes: readonly RouteDefinition[] = ROUTES,
  specs: Readonly<Record<string, RouteSpec>> = ROUTE_SPECS,
  schemas: ComponentSchemas = { request: REQUEST_SCHEMAS, response: RESPONSE_SCHEMAS },
): OpenApiDocument {
  const routeIds = new Set(routes.map((route) => route.id));
  const stale = Object.keys(specs).filter((id) => !routeIds.has(id));
  if (stale.length) throw new Error(`OpenAPI: ROUTE_SPECS has entries for routes not in ROUTES: ${stale.join(', ')}. Remove them from functions/api/openapi.ts.`);

  const paths: Record<string, PathItem> = {};
  for (const route of routes) {
    const spec = specs[route.id];
    if (!spec) {
      throw new Error(
        `OpenAPI: route ${route.id} (${route.method} ${route.path}) has no entry in ROUTE_SPECS in functions/api/openapi.ts; add one, then run npm run openapi.`,
      );
    }
    const item = (paths[route.path] ??= {});
    const method = route.method.toLowerCase() as Lowercase<HttpMethod>;
    if (item[method]) throw new Error(`OpenAPI: ${route.method} ${route.path} appears twice in ROUTES.`);
    item[method] = operationFor(route, spec, schemas);
  }

  const requestSchemas = componentSchemas(schemas.request, 'input');
  const responseSchemas = componentSchemas(schemas.response, 'output');
  const clash = Object.keys(requestSchemas).filter((name) => name in responseSchemas);
  if (clash.length) throw new Error(`OpenAPI: schema names used for both requests and responses: ${clash.join(', ')}.`);

  return {
    openapi: OPENAPI_VERSION,
    info: { title: API_TITLE, version: packageJson.version, description: DESCRIPTION, license: { name: 'Apache-2.0', identifier: 'Apache-2.0' } },
    servers: [
      { url: 'http://127.0.0.1:3000', description: 'Local stack (`npm start`; PORT or --port changes the port).' },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'A deployed stack (its ApiUrl output).',
        variables: { apiId: { default: 'apiId', description: 'The HTTP API id.' }, region: { default: 'us-east-1', description: 'The AWS region.' } },
      },
    ],
    security: [{ [SECURITY_SCHEME]: [] }],
    tags: [
      { name: 'health', description: 'Liveness.' },
      { name: 'tenants', description: 'Tenants, their lifecycle, audit trail, access decision and query leases.' },
      { name: 'compliance', description: 'Compliance violations: missed deletion deadlines.' },
    ],
    paths,
    components: {
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description:
            `An OAuth 2.0 access token (a JWT) from the stack's identity provider: its Amazon Cognito user pool (the operator app client, or the application plane's client-credentials client), an issuer it was told to trust (\`-c jwtIssuer\`), or \`npm start\`'s local issuer (\`npm run token\`). ` +
            `API Gateway checks its signature, \`iss\`, \`aud\` (or Cognito's \`client_id\`), \`exp\` and \`nbf\`, and that it has one of the route's scopes (listed per operation): \`${DEFAULT_CLAIM_MAPPING.operatorScope}\` (everything) or \`${DEFAULT_CLAIM_MAPPING.tenantScope}\` (its own tenant, named in the \`${DEFAULT_CLAIM_MAPPING.tenantClaim}\` claim). \`sub\` is the caller recorded in the audit trail.`,
        },
      },
      parameters: {
        [IDEMPOTENCY_KEY_PARAMETER]: {
          name: 'Idempotency-Key',
          in: 'header',
          required: false,
          description:
            'Makes the POST safe to retry: the same key with the same request replays the first response; with a different request it is refused (422). Remembered for 24 hours by default. A UUID works.',
          schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]{1,255}$' },
        },
        [IF_MATCH_PARAMETER]: {
          name: 'If-Match',
          in: 'header',
          required: false,
          description: 'The tenant version you read (its ETag, e.g. `"3"`): the change applies only if the tenant is still at that version, else 409 VERSION_CONFLICT.',
          schema: { type: 'string' },
        },
      },
      headers: {
        ETag: { description: 'The tenant version, quoted (e.g. `"3"`); send it as If-Match.', schema: { type: 'string' } },
        Location: { description: 'The new tenant: `/tenants/{tenantId}`.', schema: { type: 'string' } },
        RetryAfter: {
          description: 'Whole seconds to wait before sending again (RFC 9110 10.2.3), at least 1: when the caller\'s bucket has a token again (`RATE_LIMITED`), when the tenant\'s soonest query lease expires (`LEASE_LIMIT_REACHED`), on the error codes that say so.',
          schema: { type: 'string', pattern: '^[1-9][0-9]*$' },
        },
        IdempotentReplayed: { description: '`true` when this is the stored response of an earlier request with the same Idempotency-Key.', schema: { type: 'string', const: 'true' } },
      },
      schemas: { ...requestSchemas, ...responseSchemas },
    },
  };
}

/** The document as written to OPENAPI_JSON_PATH: 2-space JSON and a trailing newline. */
export function renderOpenApiJson(document: object = buildOpenApiDocument()): string {
  return `${JSON.stringify(document, null, 2)}\n`;
}
