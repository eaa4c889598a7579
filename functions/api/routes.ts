/**
 * The HTTPS API's route table: the one list the CDK stack (one Lambda per route) and the local HTTP adapter
 * both read, so the two places serve exactly the same routes with the same handlers.
 */
import { scopesForAccess, type ClaimMapping } from '../auth/jwt-claims';
import type { LifecycleEvent } from '../lifecycle/lifecycle-table';
import type { RouteAccess } from '../shared/http/principal';
import { RATE_LIMIT_PK_PREFIX } from '../shared/http/rate-limit-policy';
import { IDEMPOTENCY_PK_PREFIX } from '../shared/idempotency';
import { TENANT_STATES } from '../lifecycle/lifecycle-table';
import { BY_STATE_INDEX, BY_TENANT_INDEX } from '../tenants/tenant-table';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/**
 * The DynamoDB actions a route may be granted on the lifecycle table (IAM action names, without `dynamodb:`). A
 * TransactWriteItems needs the action of each of its items (Service Authorization Reference, Amazon DynamoDB:
 * TransactWriteItems has no action of its own), a TransactGetItems GetItem; BatchWriteItem needs its own. Scan is
 * not among them: no route reads the whole table.
 */
export type TableAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'ConditionCheckItem' | 'BatchWriteItem';

/**
 * One statement of a route's grant on the lifecycle table: `actions` on the table (or, with `index`, on that index
 * only), for items whose partition key (for an index, the index's partition key) matches one of `leadingKeys`,
 * IAM `StringLike` patterns (`TENANT#*`; `active` for the byState partition of active tenants). On AWS this is one
 * policy statement with `ForAllValues:StringLike` on `dynamodb:LeadingKeys` (and `Null: false`, so a request that
 * names no partition is refused); the local stack checks each call against the same statements
 * (infra/local/table-grant-guard.ts).
 */
export interface TableGrant {
  readonly actions: readonly TableAction[];
  readonly leadingKeys: readonly string[];
  /** A global secondary index of the table (tenant-table.ts); absent: the table itself. */
  readonly index?: typeof BY_STATE_INDEX.name | typeof BY_TENANT_INDEX.name;
}

/** One request to the table as IAM authorizes it: one action, on the table or an index, with its leading keys. */
export interface TableAccessRequest {
  readonly action: string;
  readonly table?: string;
  readonly index?: string;
  /** The partition key values it touches (an index's own partition key for a Query on an index). */
  readonly leadingKeys: readonly string[];
}

/**
 * Who may call a route: one of the access rules `authorizeRoute` enforces (functions/shared/http/principal.ts), or
 * 'public': no token at all (no authorizer on API Gateway, none in the local adapter).
 */
export type RouteAccessLevel = RouteAccess | 'public';

/** A route as the table declares it. */
export interface RouteSpec {
  /** Stable id: the Lambda's construct id and the handler's metric dimension. */
  readonly id: string;
  readonly method: HttpMethod;
  /** API Gateway path template, `{name}` for a path parameter. */
  readonly path: string;
  /** Handler module, relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /**
   * Who may call it: the one statement of a route's access rule. API Gateway's JWT authorizer (the scopes of
   * `routeScopes`), the local adapter, `apiRoute` (`authorizeRoute`) and the OpenAPI document all read it here.
   * 'public': the health check (no table access) or a route whose handler verifies its caller itself (`verifiedBy`).
   */
  readonly access: RouteAccessLevel;
  /**
   * How a public route's handler proves who sent the request, instead of a bearer token: 'stripe-signature', the
   * Stripe-Signature header over the exact body, checked before anything is read or changed. Only such a route may
   * be public and reach the table; it takes no Idempotency-Key (it deduplicates on what it verified).
   */
  readonly verifiedBy?: 'stripe-signature';
  /**
   * What the route's handler itself does to the lifecycle table: its function's IAM grant, and what the local stack
   * lets it do. Only the route's own calls: what every idempotent route, every authenticated route and the Stripe
   * webhook need besides is added from those properties (`routeTableGrants`). Absent: nothing.
   */
  readonly table?: readonly TableGrant[];
  readonly summary: string;
  /** The lifecycle events the route requests: a tenant's `allowedEvents` are those of these it would accept now. */
  readonly events?: readonly LifecycleEvent[];
}

/** A route of the table, with what follows from its access rule. */
export interface RouteDefinition extends RouteSpec {
  /** Whether a token is needed (derived from `access`: every route but a 'public' one). */
  readonly authenticated: boolean;
}

/** A route of the table from its declaration. */
export function defineRoute(spec: RouteSpec): RouteDefinition {
  return { ...spec, authenticated: spec.access !== 'public' };
}

/**
 * The partitions of the table the routes reach, as `dynamodb:LeadingKeys` patterns: the key design of
 * functions/tenants/tenant-table.ts, each a `pkPrefix` a data source declares (test/unit/api/route-table-grants.test.ts
 * checks it), and the byState index's partitions by their values.
 */
const TENANT_ITEMS = 'TENANT#*';
const OPERATIONS = 'OPERATION#*';
const SUBSCRIPTION_LINKS = 'SUBSCRIPTION#*';
/** byState partitions of tenants: one per lifecycle state (its other partitions hold operations, schedules, violations). */
const TENANTS_BY_STATE: readonly string[] = TENANT_STATES;
/** The byState partition of compliance violations (`VIOLATIONS_PARTITION`, functions/tenants/tenant-store.ts). */
const COMPLIANCE_VIOLATIONS = 'compliance:violation';
/** A lifecycle transition of one tenant (tenant-store.ts): read it, update it and put its audit item in one transaction. */
const TRANSITION: readonly TableGrant[] = [{ actions: ['GetItem', 'PutItem', 'UpdateItem'], leadingKeys: [TENANT_ITEMS] }];
/** A transition that also bills through the local ledger (its entries are items of the tenant's partition, read by Query). */
const TRANSITION_WITH_LEDGER: readonly TableGrant[] = [{ actions: ['GetItem', 'Query', 'PutItem', 'UpdateItem'], leadingKeys: [TENANT_ITEMS] }];

export const ROUTES: readonly RouteDefinition[] = [
  defineRoute({ id: 'Health', method: 'GET', path: '/health', entry: 'functions/api/health.ts', access: 'public', summary: 'Liveness check.' }),
  defineRoute({ id: 'CreateTenant', method: 'POST', path: '/tenants', entry: 'functions/tenants/handlers/create-tenant.ts', access: 'operator', table: [{ actions: ['GetItem', 'Query', 'PutItem'], leadingKeys: [TENANT_ITEMS] }, { actions: ['GetItem', 'PutItem'], leadingKeys: [SUBSCRIPTION_LINKS] }], summary: 'Create an active tenant on a plan.' }),
  defineRoute({ id: 'ListTenants', method: 'GET', path: '/tenants', entry: 'functions/tenants/handlers/list-tenants.ts', access: 'operator', table: [{ actions: ['Query'], index: 'byState', leadingKeys: TENANTS_BY_STATE }], summary: 'List tenants, by state, paginated.' }),
  defineRoute({ id: 'GetTenant', method: 'GET', path: '/tenants/{tenantId}', entry: 'functions/tenants/handlers/get-tenant.ts', access: 'operator-or-own-tenant', table: [{ actions: ['GetItem'], leadingKeys: [TENANT_ITEMS] }], summary: 'Read one tenant.' }),
  defineRoute({ id: 'TenantHistory', method: 'GET', path: '/tenants/{tenantId}/history', entry: 'functions/tenants/handlers/tenant-history.ts', access: 'operator-or-own-tenant', table: [{ actions: ['GetItem', 'Query'], leadingKeys: [TENANT_ITEMS] }], summary: "A tenant's audit trail, newest first." }),
  defineRoute({ id: 'SuspendTenant', method: 'POST', path: '/tenants/{tenantId}/suspend', entry: 'functions/tenants/handlers/suspend-tenant.ts', access: 'operator', table: TRANSITION, summary: 'Suspend an active tenant.', events: ['suspend'] }),
  defineRoute({ id: 'ResumeTenant', method: 'POST', path: '/tenants/{tenantId}/resume', entry: 'functions/tenants/handlers/resume-tenant.ts', access: 'operator', table: TRANSITION, summary: 'Resume a suspended tenant.', events: ['resume'] }),
  defineRoute({ id: 'CheckAccess', method: 'GET', path: '/tenants/{tenantId}/access', entry: 'functions/tenants/handlers/check-access.ts', access: 'operator-or-own-tenant', table: [{ actions: ['GetItem'], leadingKeys: [TENANT_ITEMS] }], summary: 'Application-plane access check: read_write, read_only or blocked.' }),
  defineRoute({ id: 'ReportUsage', method: 'PUT', path: '/tenants/{tenantId}/usage', entry: 'functions/tenants/handlers/report-usage.ts', access: 'operator-or-own-tenant', table: [{ actions: ['GetItem', 'UpdateItem'], leadingKeys: [TENANT_ITEMS] }], summary: "Application plane: report the tenant's current usage (plan changes check it)." }),
  defineRoute({ id: 'AcquireQueryLease', method: 'POST', path: '/tenants/{tenantId}/leases', entry: 'functions/leases/handlers/acquire-lease.ts', access: 'operator-or-own-tenant', table: [{ actions: ['ConditionCheckItem', 'PutItem', 'Query'], leadingKeys: [TENANT_ITEMS] }], summary: 'Take a query lease (application plane); refused during a read-only window.' }),
  defineRoute({ id: 'ReleaseQueryLease', method: 'DELETE', path: '/tenants/{tenantId}/leases/{leaseId}', entry: 'functions/leases/handlers/release-lease.ts', access: 'operator-or-own-tenant', table: [{ actions: ['DeleteItem'], leadingKeys: [TENANT_ITEMS] }], summary: 'Release a query lease; idempotent.' }),
  defineRoute({ id: 'ChangePlan', method: 'POST', path: '/tenants/{tenantId}/plan', entry: 'functions/plan-change/handlers/change-plan.ts', access: 'operator', table: [...TRANSITION, { actions: ['Query'], leadingKeys: [TENANT_ITEMS] }, { actions: ['PutItem', 'UpdateItem'], leadingKeys: [OPERATIONS] }], summary: 'Upgrade or downgrade (a plan-change workflow), or preview it with dryRun.', events: ['initiate_upgrade', 'initiate_downgrade'] }),
  defineRoute({ id: 'CancelScheduledPlanChange', method: 'DELETE', path: '/tenants/{tenantId}/scheduled-plan-change', entry: 'functions/plan-change/handlers/cancel-scheduled-plan-change.ts', access: 'operator', table: [...TRANSITION, { actions: ['GetItem', 'UpdateItem'], leadingKeys: [OPERATIONS] }], summary: 'Cancel the downgrade scheduled for the end of the billing period.' }),
  defineRoute({ id: 'InitiateDeletion', method: 'POST', path: '/tenants/{tenantId}/deletion', entry: 'functions/deletion/handlers/initiate-deletion.ts', access: 'operator', table: [...TRANSITION_WITH_LEDGER, { actions: ['GetItem', 'UpdateItem'], leadingKeys: [OPERATIONS] }, { actions: ['GetItem'], leadingKeys: [SUBSCRIPTION_LINKS] }], summary: 'Soft-delete the tenant: access blocked, billing stopped, data retained until the hard delete at the deadline (30–90 days).', events: ['initiate_deletion'] }),
  defineRoute({ id: 'CancelDeletion', method: 'DELETE', path: '/tenants/{tenantId}/deletion', entry: 'functions/deletion/handlers/cancel-deletion.ts', access: 'operator', table: [...TRANSITION_WITH_LEDGER, { actions: ['GetItem', 'PutItem'], leadingKeys: [SUBSCRIPTION_LINKS] }], summary: 'Cancel a soft delete within retention: back to active, billing restored.', events: ['cancel_deletion'] }),
  defineRoute({ id: 'PlaceLegalHold', method: 'PUT', path: '/tenants/{tenantId}/legal-hold', entry: 'functions/deletion/handlers/place-legal-hold.ts', access: 'operator', table: TRANSITION, summary: 'Place a legal hold: the hard delete does not run while it is set.' }),
  defineRoute({ id: 'ReleaseLegalHold', method: 'DELETE', path: '/tenants/{tenantId}/legal-hold', entry: 'functions/deletion/handlers/release-legal-hold.ts', access: 'operator', table: TRANSITION, summary: 'Release a legal hold; a soft-deleted tenant is then hard-deleted at the later of its deadline and a minute from now.' }),
  defineRoute({ id: 'ReactivateTenant', method: 'POST', path: '/tenants/{tenantId}/reactivate', entry: 'functions/reactivation/handlers/reactivate-tenant.ts', access: 'operator', table: [...TRANSITION, { actions: ['PutItem', 'UpdateItem'], leadingKeys: [OPERATIONS] }], summary: 'Reactivate a suspended, soft-deleted or deleted tenant (win-back, a workflow): with its data or as a fresh start; 202 with the operation.', events: ['resume', 'cancel_deletion', 'reactivate_deleted'] }),
  defineRoute({ id: 'StartExport', method: 'POST', path: '/tenants/{tenantId}/exports', entry: 'functions/export/handlers/start-export.ts', access: 'operator-or-own-tenant', table: [...TRANSITION, { actions: ['PutItem', 'UpdateItem'], leadingKeys: [OPERATIONS] }], summary: "Start a GDPR export of the tenant's data (a workflow); 202 with its id.", events: ['initiate_export'] }),
  defineRoute({ id: 'ListExports', method: 'GET', path: '/tenants/{tenantId}/exports', entry: 'functions/export/handlers/list-exports.ts', access: 'operator-or-own-tenant', table: [{ actions: ['GetItem', 'Query'], leadingKeys: [TENANT_ITEMS] }, { actions: ['GetItem'], leadingKeys: [OPERATIONS] }], summary: "The tenant's exports, newest first, paginated." }),
  defineRoute({ id: 'GetExport', method: 'GET', path: '/exports/{exportId}', entry: 'functions/export/handlers/get-export.ts', access: 'operator-or-owner-of-resource', table: [{ actions: ['GetItem'], leadingKeys: [OPERATIONS] }], summary: 'An export: status, progress per source, manifest, presigned download URLs once done.' }),
  defineRoute({ id: 'GetDeletionCertificate', method: 'GET', path: '/tenants/{tenantId}/deletion-certificate', entry: 'functions/deletion/handlers/get-deletion-certificate.ts', access: 'operator-or-own-tenant', table: [{ actions: ['GetItem'], leadingKeys: [TENANT_ITEMS] }], summary: "A deleted tenant's deletion certificate: the proof of its erasure." }),
  defineRoute({ id: 'ListComplianceViolations', method: 'GET', path: '/compliance/violations', entry: 'functions/deletion/handlers/list-violations.ts', access: 'operator', table: [{ actions: ['Query'], index: 'byState', leadingKeys: [COMPLIANCE_VIOLATIONS] }], summary: 'Missed deletion deadlines of every tenant (compliance violations), by time detected, paginated.' }),
  defineRoute({ id: 'StripeWebhook', method: 'POST', path: '/webhooks/stripe', entry: 'functions/dunning/handlers/stripe-webhook.ts', access: 'public', verifiedBy: 'stripe-signature', table: [{ actions: ['ConditionCheckItem', 'GetItem', 'PutItem', 'UpdateItem'], leadingKeys: [TENANT_ITEMS] }, { actions: ['GetItem', 'UpdateItem'], leadingKeys: [SUBSCRIPTION_LINKS] }], summary: "Stripe's webhook deliveries (no token: the Stripe-Signature header is verified), handed to the Stripe event processor." }),
  defineRoute({ id: 'ReconcileBilling', method: 'POST', path: '/billing/reconcile', entry: 'functions/dunning/handlers/reconcile.ts', access: 'operator', table: [{ actions: ['Query'], index: 'byState', leadingKeys: TENANTS_BY_STATE }, ...TRANSITION, { actions: ['GetItem'], leadingKeys: [SUBSCRIPTION_LINKS] }], summary: "Reconcile every linked subscription's status with its tenant (the dunning ladder), now; answers what changed." }),
  defineRoute({ id: 'GetOperation', method: 'GET', path: '/operations/{operationId}', entry: 'functions/operations/handlers/get-operation.ts', access: 'operator-or-owner-of-resource', table: [{ actions: ['GetItem'], leadingKeys: [OPERATIONS] }], summary: 'Status of a workflow operation: steps done, error if any.' }),
];

/** The id of the route that answers what no route matches (FALLBACK_ROUTE). */
const FALLBACK_ROUTE_ID = 'NotFound';

/** The IAM pattern of every partition key starting with `prefix`. */
function startingWith(prefix: string): string {
  return `${prefix}*`;
}

/**
 * What Powertools' DynamoDB persistence layer does with a key's record (functions/shared/idempotency.ts): PutItem
 * to claim it (conditional, `ReturnValuesOnConditionCheckFailure: ALL_OLD`), UpdateItem to store the result,
 * DeleteItem to release it when the work failed, and GetItem to read a taken key's record when the refusal did not
 * carry it (test/infra/idempotency-grants.test.ts records all four).
 */
const IDEMPOTENCY_RECORDS: TableGrant = { actions: ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem'], leadingKeys: [startingWith(IDEMPOTENCY_PK_PREFIX)] };
/** The per-caller rate limiter's bucket (functions/shared/http/rate-limit.ts): UpdateItem only. */
const RATE_LIMIT_BUCKETS: TableGrant = { actions: ['UpdateItem'], leadingKeys: [startingWith(RATE_LIMIT_PK_PREFIX)] };

/**
 * A route's whole grant on the lifecycle table: its own (`table`), plus what follows from its properties (the
 * idempotency records of a route honouring Idempotency-Key, and of the Stripe webhook, which de-duplicates events
 * with the same persistence layer; the rate limiter's bucket of every authenticated route), as statements with
 * the same resource and leading keys merged (actions sorted). The CDK stack grants exactly these
 * (infra/constructs/lifecycle-api.ts) and the local stack enforces exactly these (infra/local/table-grant-guard.ts).
 */
export function routeTableGrants(route: RouteDefinition): TableGrant[] {
  const grants = [
    ...(route.table ?? []),
    ...(honoursIdempotencyKey(route) || route.verifiedBy === 'stripe-signature' ? [IDEMPOTENCY_RECORDS] : []),
    ...(takesRateLimitToken(route) ? [RATE_LIMIT_BUCKETS] : []),
  ];
  const merged = new Map<string, { actions: Set<TableAction>; leadingKeys: readonly string[]; index?: TableGrant['index'] }>();
  for (const grant of grants) {
    const leadingKeys = [...new Set(grant.leadingKeys)].sort();
    const key = JSON.stringify([grant.index ?? '', leadingKeys]);
    const statement = merged.get(key) ?? { actions: new Set<TableAction>(), leadingKeys, ...(grant.index ? { index: grant.index } : {}) };
    for (const action of grant.actions) statement.actions.add(action);
    merged.set(key, statement);
  }
  return [...merged.values()].map(({ actions, leadingKeys, index }) => ({ actions: [...actions].sort(), leadingKeys, ...(index ? { index } : {}) }));
}

/**
 * Whether a route's requests take a token from their caller's rate-limit bucket (functions/shared/http/rate-limit.ts):
 * every authenticated route of the table, which `apiRoute` serves; not a public route, nor the fallback's 404, which
 * reaches no table.
 */
export function takesRateLimitToken(route: RouteDefinition): boolean {
  return route.authenticated && route.id !== FALLBACK_ROUTE_ID;
}

/** Whether a route's function reaches the lifecycle table at all (it then gets TABLE_NAME). */
export function reachesTable(route: RouteDefinition): boolean {
  return routeTableGrants(route).length > 0;
}

const compiledPatterns = new Map<string, RegExp>();

/** IAM's `StringLike`: `*` any run of characters, `?` any one, everything else itself (compiled once per pattern). */
function stringLike(pattern: string): RegExp {
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    compiled = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
    compiledPatterns.set(pattern, compiled);
  }
  return compiled;
}

/**
 * Whether one of `statements` allows `request`, as IAM evaluates them: the action among the statement's, on its
 * resource (the same index, or the table), and every leading key of the request matching one of its patterns
 * (`ForAllValues:StringLike`), at least one leading key being there (`Null: false`). The table's name is the
 * caller's to check.
 */
export function grantAllows(statements: readonly TableGrant[], request: TableAccessRequest): boolean {
  if (request.leadingKeys.length === 0) return false;
  return statements.some(
    (statement) =>
      (statement.actions as readonly string[]).includes(request.action) &&
      (statement.index ?? undefined) === (request.index ?? undefined) &&
      request.leadingKeys.every((key) => statement.leadingKeys.some((pattern) => stringLike(pattern).test(key))),
  );
}

/**
 * Answers every request no route matches ($default on API Gateway): 404 or 405 in the API's error shape. Behind
 * the authorizer like the routes it stands for, so an anonymous caller learns nothing about which paths and
 * methods exist (a 405 lists them); any principal may then ask (its answer names no tenant's data).
 */
export const FALLBACK_ROUTE: RouteDefinition = defineRoute({
  id: FALLBACK_ROUTE_ID,
  method: 'GET',
  path: '$default',
  entry: 'functions/api/not-found.ts',
  access: 'operator-or-owner-of-resource',
  summary: 'Unknown route.',
});

/**
 * The scopes a token needs for `route`, any one of them (API Gateway's JWT authorizer lets a request through when
 * its token has at least one of the route's `authorizationScopes`: API Gateway developer guide, "Control access
 * to HTTP APIs with JWT authorizers"): an operator route the operator scope; any other authenticated route the
 * operator or the tenant scope (the handler then checks the tenant, `authorizeRoute`); a public route none.
 */
export function routeScopes(route: Pick<RouteSpec, 'access'>, mapping: Pick<ClaimMapping, 'operatorScope' | 'tenantScope'>): string[] {
  return route.access === 'public' ? [] : scopesForAccess(route.access, mapping);
}

/**
 * The access rule `apiRoute` enforces for route `routeId`: the route table's. `given` is for routes outside the
 * table only (the local stack's own routes, test probes); throws when a table route restates its access, when a
 * route outside the table gives none, or when the table's route is public (`apiRoute` authenticates every call).
 */
export function routeAccess(routeId: string, given?: RouteAccess): RouteAccess {
  const route = ROUTES.find((candidate) => candidate.id === routeId);
  if (!route) {
    if (given === undefined) throw new Error(`apiRoute: route ${routeId} is not in ROUTES (functions/api/routes.ts); give its access.`);
    return given;
  }
  if (given !== undefined) throw new Error(`apiRoute: the access of route ${routeId} is in ROUTES (functions/api/routes.ts); remove it from the handler.`);
  if (route.access === 'public') throw new Error(`apiRoute: route ${routeId} is public in ROUTES; a public route does not go through apiRoute's authentication.`);
  return route.access;
}

/** Whether the Idempotency-Key middleware applies: every POST but a signed webhook's (its event id is the key). */
export function honoursIdempotencyKey(route: RouteDefinition): boolean {
  return route.method === 'POST' && route.verifiedBy === undefined;
}

export interface RouteMatch {
  readonly route: RouteDefinition;
  readonly pathParameters: Record<string, string>;
}

function compile(path: string): { regex: RegExp; names: string[] } {
  const names: string[] = [];
  const source = path
    .split('/')
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter) return segment.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
      names.push(parameter[1] as string);
      return '([^/]+)';
    })
    .join('/');
  return { regex: new RegExp(`^${source}/?$`), names };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment; // malformed escapes reach the handler as typed, and fail its validation there
  }
}

const COMPILED = ROUTES.map((route) => ({ route, ...compile(route.path) }));

/** The route for a method and path, or what matched the path under other methods (for 405). */
export function matchRoute(method: string, path: string): { match?: RouteMatch; allowedMethods: HttpMethod[] } {
  const allowedMethods: HttpMethod[] = [];
  for (const { route, regex, names } of COMPILED) {
    const found = regex.exec(path);
    if (!found) continue;
    if (route.method !== method.toUpperCase()) {
      allowedMethods.push(route.method);
      continue;
    }
    const pathParameters: Record<string, string> = {};
    names.forEach((name, i) => {
      pathParameters[name] = decodeSegment(found[i + 1] as string);
    });
    return { match: { route, pathParameters }, allowedMethods: [route.method] };
  }
  return { allowedMethods };
}
