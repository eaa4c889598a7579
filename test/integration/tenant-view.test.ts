/**
 * What a tenant-scoped token sees of its own tenant (issue 13, functions/tenants/tenant-view.ts), route by route,
 * against records seeded with every field a tenant must not see: an operator's identity and free-text reasons, a
 * legal hold's reason, Stripe ids (Stripe's example objects, test/events/stripe/), the vector index and the
 * schedules' names, an operation's facts and an internal error message. The operator's answer is the whole
 * record, as before; the tenant's keeps what it needs (its plan, state, times, its operations' and exports' ids,
 * a reason category).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { RESPONSE_SCHEMAS } from '../../functions/api/openapi';
import { config } from '../../functions/shared/config';
import { PLAN_LIMITS } from '../../functions/plans/plan-catalog';
import { DELETION_CERTIFICATE_SK } from '../../functions/deletion/deletion-certificate';
import { EXPORT_REQUEST_SK_PREFIX, EXPORT_WORKFLOW } from '../../functions/export/export-definition';
import { OPERATION_SK, operationPk } from '../../functions/operations/operation-store';
import { AUDIT_ITEM_TYPE, TENANT_SK, auditSk, ownedBy, tenantPk } from '../../functions/tenants/tenant-table';
import { ApiHarness } from '../support/api-harness';

const stripe = (kind: string) => JSON.parse(readFileSync(join(__dirname, '..', 'events', 'stripe', `${kind}.json`), 'utf8')) as { id: string; items?: { data: { id: string }[] } };
const CUSTOMER = stripe('customer').id;
const SUBSCRIPTION = stripe('subscription').id;
const ITEM = stripe('subscription').items!.data[0]!.id;
const INVOICE = stripe('invoice').id;
const EVENT = stripe('event').id;
const SCHEDULE = stripe('subscription_schedule').id;

const TENANT = 'acme-view';
const USAGE = { queriesPerMonth: 120, storageGb: 1.5, documents: 40, users: 3 };
const OPERATOR = 'ops-alice@provider.example';
const OPERATOR_REASON = 'Card declined again; CFO promised to pay Friday, do not escalate';
const HOLD_REASON = 'Litigation hold: Doe v. Acme, case 24-cv-1234';
const INTERNAL_ERROR = 'ProvisionedThroughputExceededException on table tenant-lifecycle-prod (arn:aws:dynamodb:eu-west-1:123456789012:table/x)';
const INDEX = `tenant-${TENANT}`;
const SCHEDULES = { hardDelete: `hard-delete-${TENANT}-2026`, enforcement: `enforce-delete-${TENANT}-2026` };
const PLAN_CHANGE = 'op_1a2b3c4d-0000-4000-8000-00000000c0de';
const EXPORT = 'op_1a2b3c4d-0000-4000-8000-0000000e1005';

/** Every value only operators may see: none of them may appear anywhere in a tenant's answer. */
const OPERATORS_ONLY = [OPERATOR, OPERATOR_REASON, HOLD_REASON, INTERNAL_ERROR, CUSTOMER, SUBSCRIPTION, ITEM, INVOICE, EVENT, SCHEDULE, INDEX, SCHEDULES.hardDelete, SCHEDULES.enforcement];

const api = new ApiHarness();
const put = (Item: Record<string, unknown>) => api.documentClient.send(new PutCommand({ TableName: config.tableName, Item }));
const at = (day: number) => `2026-03-${String(day).padStart(2, '0')}T10:00:00.000Z`;

beforeAll(async () => {
  await api.start();
  await put({
    pk: tenantPk(TENANT), sk: TENANT_SK, type: 'tenant', tenantId: TENANT, name: 'Acme View', email: 'admin@acme-view.example',
    plan: 'enterprise', state: 'suspended', version: 4, gdpr: true, operationId: PLAN_CHANGE, readOnlyReason: 'Plan change from professional to enterprise in progress.',
    usage: USAGE, usageMeasuredAt: at(3),
    resources: { plan: 'enterprise', limits: PLAN_LIMITS.enterprise, requestsPerSecond: 200, vectors: { kind: 'dedicated', index: INDEX, namespace: `tenant_${TENANT}` }, provisionedBy: PLAN_CHANGE },
    billing: { customerId: CUSTOMER, subscriptionId: SUBSCRIPTION, subscriptionItemId: ITEM },
    scheduledPlanChange: { operationId: 'op-downgrade-1', plan: 'starter', effectiveAt: at(31) },
    deletion: { requestedAt: at(4), requestedBy: OPERATOR, reason: OPERATOR_REASON, retentionDays: 30, deadline: '2026-04-03T10:00:00.000Z', window: { opensAt: at(3), closesAt: at(5) }, schedules: SCHEDULES, erasureStarted: { at: at(5), operationId: 'op-hard-delete' } },
    legalHold: { reason: HOLD_REASON, by: OPERATOR, since: at(4) },
    dunning: { standing: 'suspended', since: at(2), subscriptionId: SUBSCRIPTION, status: 'unpaid', cause: { eventId: EVENT, eventType: 'invoice.payment_failed', invoiceId: INVOICE } },
    deletionCertificateId: 'cert-1',
    createdAt: at(1), updatedAt: at(4), stateChangedAt: at(2),
  });
  const audit = (version: number, entry: Record<string, unknown>) => put({ pk: tenantPk(TENANT), sk: auditSk(version), type: AUDIT_ITEM_TYPE, tenantId: TENANT, version, at: at(version), ...entry });
  await audit(1, { actor: OPERATOR, event: 'create', from: null, to: 'active', reason: OPERATOR_REASON, operationId: 'create-1' });
  await audit(2, { actor: 'stripe-webhook', event: 'suspend', from: 'active', to: 'suspended', reason: `invoice.payment_failed ${INVOICE}: ${OPERATOR_REASON}`, stripeEventId: EVENT, stripeEventType: 'invoice.payment_failed' });
  await audit(3, { actor: OPERATOR, event: 'place_legal_hold', from: 'suspended', to: 'suspended', reason: HOLD_REASON });
  await audit(4, { actor: 'sweeper', event: 'compliance_violation', from: 'suspended', to: 'suspended', reason: INTERNAL_ERROR, violation: { kind: 'hard_delete_late', dueBy: at(5), detectedAt: at(6), latenessSeconds: 86400, detectedBy: 'sweeper' } });
  const operation = (operationId: string, fields: Record<string, unknown>) =>
    put({ pk: operationPk(operationId), sk: OPERATION_SK, type: 'operation', operationId, tenantId: TENANT, ...ownedBy(TENANT), requestedBy: OPERATOR, createdAt: at(3), startedAt: at(3), updatedAt: at(4), finishedAt: at(4), ...fields });
  await operation(PLAN_CHANGE, {
    workflow: 'plan-change', status: 'rolled_back', input: { fromPlan: 'professional', toPlan: 'enterprise', reason: OPERATOR_REASON, requestedBy: OPERATOR },
    steps: ['read_only_window', 'billing_started'], facts: { billing: { invoiceId: INVOICE, scheduleId: SCHEDULE, subscriptionId: SUBSCRIPTION } }, error: { code: 'PROVISIONING_FAILED', message: INTERNAL_ERROR },
  });
  await operation(EXPORT, { workflow: EXPORT_WORKFLOW.name, status: 'failed', input: { requestedAt: at(3), dueAt: '2026-04-03T10:00:00.000Z', requestedBy: OPERATOR }, steps: [], facts: {}, error: { code: 'EXPORT_FAILED', message: INTERNAL_ERROR } });
  await put({ pk: tenantPk(TENANT), sk: `${EXPORT_REQUEST_SK_PREFIX}${at(3)}#${EXPORT}`, type: 'export-request', exportId: EXPORT, requestedAt: at(3), dueAt: '2026-04-03T10:00:00.000Z', requestedBy: OPERATOR });
  await put({
    pk: tenantPk(TENANT), sk: DELETION_CERTIFICATE_SK, type: 'deletion-certificate', certificateId: 'cert-1', tenantId: TENANT, operationId: 'op-hard-delete',
    deletion: { requestedAt: at(4), requestedBy: OPERATOR, retentionDays: 30, deadline: '2026-04-03T10:00:00.000Z' }, window: { opensAt: at(3), closesAt: at(5) },
    trigger: { kind: 'deadline', scheduledAt: at(5) }, startedAt: at(5), completedAt: at(5), timeliness: { onTime: true },
    sources: [{ source: 'documents', before: 2, deleted: 2, purgedAt: at(5), verification: { result: 'empty', remaining: 0, verifiedAt: at(5) } }],
    billingCustomer: { deleted: true, at: at(5) }, legalHolds: [{ event: 'place_legal_hold', at: at(4), actor: OPERATOR, reason: HOLD_REASON }], tombstoneFields: ['tenantId'], sha256: 'a'.repeat(64),
  });
});
afterAll(() => api.stop());

/** Each route's answer to a tenant-scoped token, as the OpenAPI document describes it. */
const TENANT_FACING_SCHEMA = {
  tenant: 'TenantFacingTenant',
  history: 'TenantFacingAuditEntryPage',
  operation: 'TenantFacingOperation',
  exports: 'TenantFacingExportPage',
  export: 'TenantFacingExport',
  certificate: 'TenantFacingDeletionCertificate',
} as const;

const ROUTES = {
  tenant: `/tenants/${TENANT}`,
  history: `/tenants/${TENANT}/history?limit=10`,
  operation: `/operations/${PLAN_CHANGE}`,
  exports: `/tenants/${TENANT}/exports`,
  export: `/exports/${EXPORT}`,
  certificate: `/tenants/${TENANT}/deletion-certificate`,
} as const;

async function read(path: string, token: string) {
  const response = await api.request<Record<string, unknown>>('GET', path, { token });
  expect(response.status).toBe(200);
  return response;
}

describe.each(Object.entries(ROUTES))('GET %s', (kind, path) => {
  it("should show a tenant-scoped token none of the operators' names, reasons, Stripe ids, internal errors or infrastructure names", async () => {
    const { text, body } = await read(path, api.tenantToken(TENANT));
    for (const secret of OPERATORS_ONLY) expect({ kind, leaked: text.includes(secret) ? secret : undefined }).toEqual({ kind, leaked: undefined });
    const schema = RESPONSE_SCHEMAS[TENANT_FACING_SCHEMA[kind as keyof typeof ROUTES]]!;
    expect(schema.safeParse(body).error).toBeUndefined();
  });

  it('should show an operator the whole record, with those fields', async () => {
    const { text } = await read(path, api.operatorToken);
    expect(OPERATORS_ONLY.filter((secret) => text.includes(secret)).length).toBeGreaterThan(0);
  });
});

it("should describe every workflow's operation as the OpenAPI document does, for operators and tenants (an export is an operation too)", async () => {
  for (const id of [PLAN_CHANGE, EXPORT]) {
    const operator = await read(`/operations/${id}`, api.operatorToken);
    expect(RESPONSE_SCHEMAS.Operation!.safeParse(operator.body).error).toBeUndefined();
    const tenant = await read(`/operations/${id}`, api.tenantToken(TENANT));
    expect(RESPONSE_SCHEMAS.TenantFacingOperation!.safeParse(tenant.body).error).toBeUndefined();
  }
  expect((await read(`/operations/${EXPORT}`, api.operatorToken)).body).toMatchObject({ workflow: 'export' });
});

describe("what the tenant's view keeps", () => {
  const tenantToken = () => api.tenantToken(TENANT);

  it('GET /tenants/{id}: its plan and limits, state, times, usage, its operation, and when its deletion is due', async () => {
    const { body } = await read(ROUTES.tenant, tenantToken());
    expect(body).toEqual({
      tenantId: TENANT, name: 'Acme View', email: 'admin@acme-view.example', plan: 'enterprise', state: 'suspended', version: 4, gdpr: true,
      operationId: PLAN_CHANGE, readOnlyReason: 'Plan change from professional to enterprise in progress.',
      usage: USAGE, usageMeasuredAt: at(3),
      resources: { plan: 'enterprise', limits: PLAN_LIMITS.enterprise, requestsPerSecond: 200 },
      scheduledPlanChange: { operationId: 'op-downgrade-1', plan: 'starter', effectiveAt: at(31) },
      deletion: { requestedAt: at(4), retentionDays: 30, deadline: '2026-04-03T10:00:00.000Z' },
      legalHold: { since: at(4) },
      dunning: { standing: 'suspended', since: at(2), status: 'unpaid' },
      deletionCertificateId: 'cert-1', createdAt: at(1), updatedAt: at(4), stateChangedAt: at(2),
      allowedEvents: expect.any(Array),
    });
  });

  it('GET /tenants/{id}/history: each change, when, between which states, its operation, and a reason category', async () => {
    const { body } = await read(ROUTES.history, tenantToken());
    expect(body.items).toEqual([
      { tenantId: TENANT, version: 4, at: at(4), event: 'compliance_violation', from: 'suspended', to: 'suspended', reasonCategory: 'compliance', violation: { kind: 'hard_delete_late', dueBy: at(5), detectedAt: at(6), latenessSeconds: 86400 } },
      { tenantId: TENANT, version: 3, at: at(3), event: 'place_legal_hold', from: 'suspended', to: 'suspended', reasonCategory: 'account' },
      { tenantId: TENANT, version: 2, at: at(2), event: 'suspend', from: 'active', to: 'suspended', reasonCategory: 'billing' },
      { tenantId: TENANT, version: 1, at: at(1), event: 'create', from: null, to: 'active', operationId: 'create-1', reasonCategory: 'account' },
    ]);
    const operator = await read(ROUTES.history, api.operatorToken);
    expect((operator.body.items as Record<string, unknown>[])[2]).toMatchObject({ actor: 'stripe-webhook', stripeEventId: EVENT, reason: expect.stringContaining(INVOICE) });
  });

  it('GET /operations/{id}: its workflow, status, times and the error code, not its input, facts or message', async () => {
    const { body } = await read(ROUTES.operation, tenantToken());
    expect(body).toEqual({ operationId: PLAN_CHANGE, tenantId: TENANT, workflow: 'plan-change', status: 'rolled_back', createdAt: at(3), startedAt: at(3), updatedAt: at(4), finishedAt: at(4), error: { code: 'PROVISIONING_FAILED' } });
    expect((await read(ROUTES.operation, api.operatorToken)).body).toMatchObject({ requestedBy: OPERATOR, facts: { billing: { invoiceId: INVOICE } }, error: { message: INTERNAL_ERROR } });
  });

  it('GET /tenants/{id}/exports and GET /exports/{id}: its export, status and dates, the error code', async () => {
    const one = (await read(ROUTES.export, tenantToken())).body;
    expect(one).toMatchObject({ exportId: EXPORT, tenantId: TENANT, status: 'failed', requestedAt: at(3), dueAt: '2026-04-03T10:00:00.000Z', error: { code: 'EXPORT_FAILED' } });
    expect(one).not.toHaveProperty('requestedBy');
    expect((await read(ROUTES.exports, tenantToken())).body.items).toEqual([one]);
    expect((await read(ROUTES.export, api.operatorToken)).body).toMatchObject({ requestedBy: OPERATOR, error: { code: 'EXPORT_FAILED', message: INTERNAL_ERROR } });
  });

  it('GET /tenants/{id}/deletion-certificate: the proof of erasure, without who asked and why holds were placed', async () => {
    const { body } = await read(ROUTES.certificate, tenantToken());
    expect(body).toMatchObject({
      certificateId: 'cert-1', operationId: 'op-hard-delete', deletion: { requestedAt: at(4), retentionDays: 30, deadline: '2026-04-03T10:00:00.000Z' },
      sources: [{ source: 'documents', before: 2, deleted: 2 }], legalHolds: [{ event: 'place_legal_hold', at: at(4) }], sha256: 'a'.repeat(64),
    });
    expect(body.deletion).not.toHaveProperty('requestedBy');
    expect((await read(ROUTES.certificate, api.operatorToken)).body).toMatchObject({ deletion: { requestedBy: OPERATOR }, legalHolds: [{ actor: OPERATOR, reason: HOLD_REASON }] });
  });
});
