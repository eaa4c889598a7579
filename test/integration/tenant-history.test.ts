/**
 * Every change of a tenant is in its history: every mutating route of the route table is driven (a new route
 * without a step here fails the coverage test), and after each request the tenant's audit trail has exactly
 * one entry per version, 1..version with no gap, each naming who asked and why (the `reason` sent).
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ROUTES } from '../../functions/api/routes';
import { config } from '../../functions/shared/config';
import { localS3ClientConfig } from '../../infra/local/s3-local';
import { planChangeDependencies } from '../../functions/plan-change/plan-change-deps';
import { setWorkflowRunner } from '../../functions/workflows/workflow-runner';
import { LocalWorkflowRunner } from '../../infra/local/local-workflow-runner';
import { ApiHarness, type ApiResponse } from '../support/api-harness';
import Stripe from 'stripe';
import * as clock from '../../functions/shared/clock';

type Body = Record<string, unknown> & { error?: { code: string; message: string } };
type Entry = { version: number; event: string; actor: string; reason?: string; operationId?: string; from: string | null; to: string; reactivationPath?: string };

const api = new ApiHarness();
// The export step runs the real export: its storage on this file's buckets, on the local S3 server (the run's key, from the environment).
process.env.DOCUMENTS_BUCKET = `docs-${config.tableName.slice(-8)}`;
process.env.EXPORTS_BUCKET = `exports-${config.tableName.slice(-8)}`;
const runner = new LocalWorkflowRunner({ dependencies: planChangeDependencies });
const OPERATOR = 'operator@test';

beforeAll(async () => {
  await api.start();
  const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
  for (const bucket of [process.env.DOCUMENTS_BUCKET, process.env.EXPORTS_BUCKET]) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  s3.destroy();
  setWorkflowRunner(runner);
});
afterAll(async () => {
  await runner.idle();
  await api.stop();
});

async function fullHistory(tenantId: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  let cursor: string | null = null;
  do {
    const page: ApiResponse<{ items: Entry[]; nextCursor: string | null }> = await api.request('GET', `/tenants/${tenantId}/history?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
    expect(page.status).toBe(200);
    entries.push(...page.body.items);
    cursor = page.body.nextCursor;
  } while (cursor);
  return entries.reverse(); // oldest first
}

interface Expected {
  readonly event: string;
  readonly actor?: string;
  /** The reason the request sent: the entry's reason must be it (or contain it, for derived reasons). */
  readonly reason?: string | RegExp;
  readonly from?: string;
  readonly to?: string;
  /** A reactivation's entries name its path. */
  readonly reactivationPath?: string;
}

interface Step {
  readonly route: string;
  readonly title: string;
  readonly send: () => Promise<ApiResponse<Body>>;
  readonly status: number;
  /** The audit entries the step adds, oldest first. */
  readonly adds: readonly Expected[];
}

let leaseId = '';
let operationId = '';

const TENANT = 'hist-a';
const tenantToken = () => api.tenantToken(TENANT);

/** One tenant's life through every mutating route; workflow steps are awaited before the history is read. */
/** A Stripe event about the tenant's subscription, signed as Stripe signs it, delivered to the webhook. */
async function stripeDelivery(id: string, type: string, secondsAgo: number): Promise<ApiResponse<Body>> {
  const tenant = await api.request<Body>('GET', `/tenants/${TENANT}`);
  const subscription = (tenant.body.billing as { subscriptionId: string }).subscriptionId;
  const payload = JSON.stringify({
    id,
    object: 'event',
    type,
    created: Math.floor(clock.now().getTime() / 1000) + secondsAgo,
    data: { object: { object: 'invoice', parent: { type: 'subscription_details', subscription_details: { subscription } } } },
  });
  const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: process.env.STRIPE_WEBHOOK_SECRET as string });
  return api.request('POST', '/webhooks/stripe', { token: null, rawBody: payload, headers: { 'content-type': 'application/json', 'stripe-signature': signature } });
}

const STEPS: readonly Step[] = [
  {
    route: 'CreateTenant',
    title: 'create',
    send: () => api.request('POST', '/tenants', { body: { tenantId: TENANT, name: 'History A', email: 'a@hist.example', plan: 'starter', reason: 'Signed up from the pricing page' } }),
    status: 201,
    adds: [{ event: 'create', reason: 'Signed up from the pricing page', from: undefined, to: 'active' }],
  },
  {
    route: 'ReportUsage',
    title: 'usage report (a measurement: no version, no entry)',
    send: () => api.request('PUT', `/tenants/${TENANT}/usage`, { token: tenantToken(), body: { usage: { queriesPerMonth: 10, storageGb: 1, documents: 5, users: 3 } } }),
    status: 200,
    adds: [],
  },
  {
    route: 'AcquireQueryLease',
    title: 'query lease taken (no version, no entry)',
    send: async () => {
      const response = await api.request<Body>('POST', `/tenants/${TENANT}/leases`, { token: tenantToken(), body: { holder: 'report-query', ttlSeconds: 60 } });
      leaseId = response.body.leaseId as string;
      return response;
    },
    status: 201,
    adds: [],
  },
  {
    route: 'ReleaseQueryLease',
    title: 'query lease released (no version, no entry)',
    send: () => api.request('DELETE', `/tenants/${TENANT}/leases/${leaseId}`, { token: tenantToken() }),
    status: 204,
    adds: [],
  },
  {
    route: 'SuspendTenant',
    title: 'suspend',
    send: () => api.request('POST', `/tenants/${TENANT}/suspend`, { body: { reason: 'invoice.payment_failed: card declined' } }),
    status: 200,
    adds: [{ event: 'suspend', reason: 'invoice.payment_failed: card declined', from: 'active', to: 'suspended' }],
  },
  {
    route: 'ResumeTenant',
    title: 'resume',
    send: () => api.request('POST', `/tenants/${TENANT}/resume`, { body: { reason: 'invoice.paid' } }),
    status: 200,
    adds: [
      { event: 'resume', reason: 'invoice.paid', from: 'suspended', to: 'reactivating', reactivationPath: 'resume' },
      { event: 'complete_reactivation', reason: 'invoice.paid', from: 'reactivating', to: 'active', reactivationPath: 'resume' },
    ],
  },
  {
    route: 'ChangePlan',
    title: 'plan change preview (dry run: nothing changes)',
    send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'professional', dryRun: true } }),
    status: 200,
    adds: [],
  },
  {
    route: 'ChangePlan',
    title: 'upgrade, completed by the workflow',
    send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'professional', reason: 'Needs more seats' } }),
    status: 202,
    adds: [
      { event: 'initiate_upgrade', reason: 'Needs more seats', from: 'active', to: 'upgrading' },
      { event: 'start_read_only_window', reason: /read-only|writes and new queries are paused/i, from: 'upgrading', to: 'upgrading' },
      { event: 'complete_upgrade', reason: /professional/, from: 'upgrading', to: 'active' },
    ],
  },
  {
    route: 'ChangePlan',
    title: 'downgrade scheduled for the end of the billing period',
    send: async () => {
      const response = await api.request<Body>('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'starter', reason: 'Downgrade at renewal' } });
      operationId = response.body.operationId as string;
      return response;
    },
    status: 202,
    adds: [{ event: 'schedule_plan_change', reason: 'Downgrade at renewal', from: 'active', to: 'active' }],
  },
  {
    route: 'CancelScheduledPlanChange',
    title: 'scheduled downgrade cancelled',
    send: () => api.request('DELETE', `/tenants/${TENANT}/scheduled-plan-change`, { body: { reason: 'Customer changed their mind' } }),
    status: 200,
    adds: [{ event: 'cancel_scheduled_plan_change', reason: 'Customer changed their mind', from: 'active', to: 'active' }],
  },
  {
    route: 'StartExport',
    title: 'GDPR export, completed',
    send: () => api.request('POST', `/tenants/${TENANT}/exports`, { body: { reason: 'Art. 15 request' } }),
    status: 202,
    adds: [
      { event: 'initiate_export', reason: 'Art. 15 request', from: 'active', to: 'exporting' },
      { event: 'complete_export', from: 'exporting', to: 'active' },
    ],
  },
  {
    route: 'AcquireQueryLease',
    title: 'a query that outlives the next drain timeout',
    send: () => api.request('POST', `/tenants/${TENANT}/leases`, { token: tenantToken(), body: { holder: 'stuck-query', ttlSeconds: 120 } }),
    status: 201,
    adds: [],
  },
  {
    route: 'ChangePlan',
    title: 'upgrade rolled back at the drain timeout',
    send: () => api.request('POST', `/tenants/${TENANT}/plan`, { body: { plan: 'enterprise', drainTimeoutSeconds: 1, reason: 'Trial of enterprise' } }),
    status: 202,
    adds: [
      { event: 'initiate_upgrade', reason: 'Trial of enterprise', from: 'active', to: 'upgrading' },
      { event: 'start_read_only_window', from: 'upgrading', to: 'upgrading' },
      // The cause itself, readable without the operation: how many queries, which timeout, which holder.
      { event: 'rollback_upgrade', reason: /1 in-flight query still holds its lease after the drain timeout of 1 s \(holders: stuck-query\)/, from: 'upgrading', to: 'active' },
    ],
  },
  {
    route: 'PlaceLegalHold',
    title: 'legal hold placed',
    send: () => api.request('PUT', `/tenants/${TENANT}/legal-hold`, { body: { reason: 'Litigation 2026-CV-118', by: 'legal@hist.example' } }),
    status: 200,
    adds: [{ event: 'place_legal_hold', reason: /legal@hist\.example: Litigation 2026-CV-118/, from: 'active', to: 'active' }],
  },
  {
    route: 'ReleaseLegalHold',
    title: 'legal hold released',
    send: () => api.request('DELETE', `/tenants/${TENANT}/legal-hold`, { body: { reason: 'Case settled' } }),
    status: 200,
    adds: [{ event: 'release_legal_hold', reason: 'Case settled', from: 'active', to: 'active' }],
  },
  {
    route: 'StripeWebhook',
    title: 'a failed payment reported by Stripe (grace period)',
    send: () => stripeDelivery('evt_hist_payment_failed', 'invoice.payment_failed', -60),
    status: 200,
    adds: [{ event: 'start_grace_period', actor: 'stripe:webhook', reason: /^invoice\.payment_failed evt_hist_payment_failed: /, from: 'active', to: 'active' }],
  },
  {
    route: 'StripeWebhook',
    title: 'the payment recovered (grace ended)',
    send: () => stripeDelivery('evt_hist_paid', 'invoice.paid', -30),
    status: 200,
    adds: [{ event: 'end_grace_period', actor: 'stripe:webhook', reason: /^invoice\.paid evt_hist_paid: /, from: 'active', to: 'active' }],
  },
  {
    // The tenant's subscription is in good standing (its newest event said so): nothing to change.
    route: 'ReconcileBilling',
    title: 'billing reconciled',
    send: () => api.request('POST', '/billing/reconcile'),
    status: 200,
    adds: [],
  },
  {
    route: 'InitiateDeletion',
    title: 'soft delete',
    send: () => api.request('POST', `/tenants/${TENANT}/deletion`, { body: { retentionDays: 30, reason: 'Account closed' } }),
    status: 202,
    adds: [{ event: 'initiate_deletion', reason: 'Account closed', from: 'active', to: 'deleting' }],
  },
  {
    route: 'CancelDeletion',
    title: 'soft delete cancelled within retention',
    send: () => api.request('DELETE', `/tenants/${TENANT}/deletion`, { body: { reason: 'Customer came back' } }),
    status: 200,
    adds: [
      { event: 'cancel_deletion', reason: 'Customer came back', from: 'deleting', to: 'reactivating', reactivationPath: 'restore' },
      { event: 'complete_reactivation', reason: 'Customer came back', from: 'reactivating', to: 'active', reactivationPath: 'restore' },
    ],
  },
  {
    route: 'SuspendTenant',
    title: 'suspended again',
    send: () => api.request('POST', `/tenants/${TENANT}/suspend`, { body: { reason: 'Paused by the customer' } }),
    status: 200,
    adds: [{ event: 'suspend', reason: 'Paused by the customer', from: 'active', to: 'suspended' }],
  },
  {
    route: 'ReactivateTenant',
    title: 'reactivated from suspended (resume), completed by the workflow',
    send: () => api.request('POST', `/tenants/${TENANT}/reactivate`, { body: { reason: 'Win-back offer accepted' } }),
    status: 202,
    adds: [
      { event: 'resume', reason: 'Win-back offer accepted', from: 'suspended', to: 'reactivating', reactivationPath: 'resume' },
      { event: 'complete_reactivation', from: 'reactivating', to: 'active', reactivationPath: 'resume' },
    ],
  },
  {
    route: 'InitiateDeletion',
    title: 'soft delete again',
    send: () => api.request('POST', `/tenants/${TENANT}/deletion`, { body: { retentionDays: 30, reason: 'Account closed again' } }),
    status: 202,
    adds: [{ event: 'initiate_deletion', reason: 'Account closed again', from: 'active', to: 'deleting' }],
  },
  {
    route: 'ReactivateTenant',
    title: 'reactivated within retention with its data (restore), completed by the workflow',
    send: () => api.request('POST', `/tenants/${TENANT}/reactivate`, { body: { restoreData: true, reason: 'Came back within retention' } }),
    status: 202,
    adds: [
      { event: 'cancel_deletion', reason: 'Came back within retention', from: 'deleting', to: 'reactivating', reactivationPath: 'restore' },
      { event: 'complete_reactivation', from: 'reactivating', to: 'active', reactivationPath: 'restore' },
    ],
  },
];

describe('Audit trail: every change of a tenant is in its history', () => {
  it('should drive every mutating route of the route table (a new route needs a step here)', () => {
    const mutating = ROUTES.filter((route) => route.method !== 'GET').map((route) => route.id);
    const driven = new Set(STEPS.map((step) => step.route));
    expect(mutating.filter((id) => !driven.has(id))).toEqual([]);
  });

  it('should have versions 1..N without a gap after every request, each entry with the actor and the reason sent', async () => {
    let seen = 0;
    for (const step of STEPS) {
      const response = await step.send();
      expect([step.title, response.status]).toEqual([step.title, step.status]);
      await runner.idle();

      const tenant = (await api.request<Body>('GET', `/tenants/${TENANT}`)).body;
      const history = await fullHistory(TENANT);
      expect([step.title, history.map((entry) => entry.version)]).toEqual([step.title, Array.from({ length: tenant.version as number }, (_, i) => i + 1)]);

      const added = history.slice(seen);
      expect([step.title, added.map((entry) => entry.event)]).toEqual([step.title, step.adds.map((expected) => expected.event)]);
      added.forEach((entry, i) => {
        const expected = step.adds[i] as Expected;
        expect(entry.actor).toBe(expected.actor ?? OPERATOR);
        expect(typeof entry.reason).toBe('string');
        expect((entry.reason as string).length).toBeGreaterThan(0);
        if (typeof expected.reason === 'string') expect(entry.reason).toBe(expected.reason);
        else if (expected.reason) expect(entry.reason).toMatch(expected.reason);
        if (expected.from !== undefined) expect(entry.from).toBe(expected.from);
        expect(entry.to).toBe(expected.to);
        expect([step.title, entry.event, entry.reactivationPath]).toEqual([step.title, entry.event, expected.reactivationPath]);
        expect(entry.operationId).toEqual(expect.any(String));
      });
      seen = history.length;
    }
    expect(operationId).toMatch(/^op_/);
  });
});
