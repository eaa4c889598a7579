/**
 * Stripe webhook deliveries at scale, over HTTP against the local API (the http adapter and the deployed handler
 * modules, DynamoDB Local and s3rver started here on free loopback ports):
 *
 * - 100 tenants created through POST /tenants, each given its (ledger) billing account and subscription link;
 * - per tenant, a seeded random stream of `invoice.payment_failed`, `invoice.paid` and
 *   `customer.subscription.updated` (status past_due, unpaid or active) with increasing `created`;
 * - 1,000 deliveries: every event once plus 20% duplicates (the same event id and body, signed anew as Stripe
 *   signs each retry), in shuffled order, each signed with `stripe.webhooks.generateTestHeaderString` (the real
 *   SDK) and sent to POST /webhooks/stripe by BENCH_CONCURRENCY (default 8) senders; a delivery answered
 *   409 STRIPE_EVENT_IN_PROGRESS (a duplicate arriving while the first is processed, Powertools' in-progress lock)
 *   is delivered again REDELIVERY_DELAY_MS later, as Stripe retries any answer but 2xx;
 * - then each tenant read back (GET /tenants/{id}) and its state and dunning standing compared with what its newest
 *   event implies under the dunning policy (`expectedFinals`).
 *
 * Prints deliveries per second, P50/P95/max latency, the answers by status and result (redeliveries included), and the count of
 * tenants whose final state is not what their newest event implies (goal 0). Exits 1 when a delivery failed
 * or a tenant mismatched.
 *
 *   npm run bench:webhooks      BENCH_SEED=7 another event stream; BENCH_CONCURRENCY=16 more senders
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Stripe from 'stripe';
import { applyLoopbackEnvironment } from '../infra/local/loopback-env';
import { startBenchEmulators, type BenchEmulators } from './bench-stack';
import { seeded, withConcurrency } from './seeded';
import type { BillingAccount } from '../functions/billing/billing-port';
import type { StripeEventEnvelope, subscriptionOfEvent } from '../functions/dunning/stripe-event-processor';
import { decide, type TenantDunning } from '../functions/dunning/dunning-policy';
import { INITIAL_STATE, type TenantState } from '../functions/lifecycle/lifecycle-table';
import { transition } from '../functions/lifecycle/transition';

applyLoopbackEnvironment();
// Before any function module loads: the logger and metrics read these at import.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const TABLE = 'bench-webhooks';
const TENANTS = 100;
const DELIVERIES = 1_000;
const DUPLICATE_SHARE = 0.2;
/** How long a sender waits before delivering again an event answered 409 STRIPE_EVENT_IN_PROGRESS (Stripe waits minutes). */
const REDELIVERY_DELAY_MS = 50;
const MAX_REDELIVERIES = 20;
const SEED = Number(process.env.BENCH_SEED ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECRET = `whsec_bench${'0'.repeat(32)}`;

type DunningEventType = 'invoice.payment_failed' | 'invoice.paid' | 'customer.subscription.updated';
type SubscriptionStatus = 'past_due' | 'unpaid' | 'active';

/** One event of a tenant's stream, and the Stripe Event object sent for it. */
interface BenchEvent {
  readonly tenantId: string;
  readonly customerId: string;
  readonly subscriptionId: string;
  readonly type: DunningEventType;
  /** For customer.subscription.updated: the subscription's new status. */
  readonly status?: SubscriptionStatus;
  readonly created: number;
  readonly body: string;
}

/** A tenant's final state and its standing in the dunning ladder (`dunning.standing`, absent in good standing). */
interface Standing {
  readonly state: TenantState;
  readonly dunning?: TenantDunning;
}

/**
 * What the dunning policy (functions/dunning/dunning-policy.ts, `decide`) makes of a subscription's events applied
 * in `created` order, with no time passing (so no grace period runs out): each event's status as the processor
 * reads it (`subscriptionOfEvent`: payment_failed → past_due, paid → active, subscription.updated → its status),
 * each action's transitions through the lifecycle table.
 */
function policyOutcome(events: readonly BenchEvent[], statusOf: typeof subscriptionOfEvent, now: Date): Standing {
  let tenant: Standing = { state: INITIAL_STATE };
  for (const event of [...events].sort((a, b) => a.created - b.created)) {
    const status = statusOf(JSON.parse(event.body) as StripeEventEnvelope)?.status;
    const action = decide(tenant, { subscriptionId: event.subscriptionId, status, cause: { channel: 'webhook' } }, now);
    if (action.kind === 'start_grace') tenant = { state: tenant.state, dunning: action.dunning };
    else if (action.kind === 'end_grace') tenant = { state: tenant.state };
    else if (action.kind === 'suspend') tenant = { state: transition(tenant, 'suspend').state, dunning: action.dunning };
    else if (action.kind === 'resume') tenant = { state: transition(transition(tenant, 'resume'), 'complete_reactivation').state, ...(action.dunning ? { dunning: action.dunning } : {}) };
    else if (action.kind !== 'none') throw new Error(`The bench's stream led to ${action.kind}: ${action.reason}`);
  }
  return tenant;
}

/**
 * Every final standing the newest event can imply, whatever the delivery order. The processor applies an event
 * only if it is newer than the last one applied to the subscription (an older one arriving later is `stale`), so
 * what it applies is the stream's events in `created` order with some left out, the newest always in: one outcome
 * per such subsequence. The policy is meant to make them all one (a past_due after the ladder's suspension for
 * unpaid resumes into grace, as a past_due after a good standing starts it); the bench counts the tenants for
 * which they are not (`order-dependent`). Keyed by `describe`.
 */
function expectedFinals(events: readonly BenchEvent[], statusOf: typeof subscriptionOfEvent, now: Date): Map<string, Standing> {
  const ordered = [...events].sort((a, b) => a.created - b.created);
  const newest = ordered.pop() as BenchEvent;
  const outcomes = new Map<string, Standing>();
  for (let mask = 0; mask < 2 ** ordered.length; mask += 1) {
    const applied = [...ordered.filter((_, i) => (mask >> i) & 1), newest];
    const outcome = policyOutcome(applied, statusOf, now);
    outcomes.set(describe(outcome), outcome);
  }
  return outcomes;
}

function describe(standing: { readonly state?: string; readonly dunning?: { readonly standing?: string } }): string {
  return `${standing.state}${standing.dunning ? ` (${standing.dunning.standing})` : ''}`;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The Stripe Event object for one event of the stream (invoice events name their subscription where current API versions put it). */
function eventBody(id: string, event: Omit<BenchEvent, 'body'>): string {
  const object =
    event.type === 'customer.subscription.updated'
      ? { id: event.subscriptionId, object: 'subscription', status: event.status, customer: event.customerId }
      : {
          id: `in_${id.slice(4)}`,
          object: 'invoice',
          customer: event.customerId,
          status: event.type === 'invoice.paid' ? 'paid' : 'open',
          parent: { type: 'subscription_details', subscription_details: { subscription: event.subscriptionId, metadata: {} } },
        };
  return JSON.stringify({ id, object: 'event', api_version: '2025-03-31.basil', created: event.created, data: { object }, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: event.type });
}

/** Every tenant's stream: 8 events each (800 in all), of seeded types, `created` increasing per tenant. */
function eventStreams(random: () => number, tenantIds: readonly string[], accounts: ReadonlyMap<string, BillingAccount>): BenchEvent[] {
  const perTenant = Math.round(DELIVERIES / (1 + DUPLICATE_SHARE) / tenantIds.length);
  const start = 1_796_000_000;
  const events: BenchEvent[] = [];
  for (const [t, tenantId] of tenantIds.entries()) {
    let created = start + t;
    for (let i = 0; i < perTenant; i += 1) {
      created += 60 + Math.floor(random() * 3600);
      const pick = random();
      const type: DunningEventType = pick < 0.35 ? 'invoice.payment_failed' : pick < 0.6 ? 'invoice.paid' : 'customer.subscription.updated';
      const statuses: SubscriptionStatus[] = ['past_due', 'unpaid', 'active'];
      const status = type === 'customer.subscription.updated' ? statuses[Math.floor(random() * statuses.length)] : undefined;
      const { customerId, subscriptionId } = accounts.get(tenantId) as BillingAccount;
      const partial = { tenantId, customerId, subscriptionId, type, ...(status ? { status } : {}), created };
      events.push({ ...partial, body: eventBody(`evt_bench_${t}_${i}`, partial) });
    }
  }
  return events;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

async function main(): Promise<void> {
  const s3Directory = mkdtempSync(join(tmpdir(), 'bench-webhooks-s3-'));
  let emulators: BenchEmulators | undefined;
  let closeApi: (() => Promise<void>) | undefined;
  try {
    emulators = await startBenchEmulators({ s3Directory, buckets: [], cleanUp: () => rmSync(s3Directory, { recursive: true, force: true }) });
    process.env.AWS_ENDPOINT_URL_DYNAMODB = emulators.dynamoEndpoint;
    process.env.AWS_ENDPOINT_URL_S3 = emulators.s3Endpoint;
    process.env.TABLE_NAME = TABLE;
    process.env.STRIPE_WEBHOOK_SECRET = SECRET;
    const { getDocumentClient } = await import('../functions/shared/aws-clients');
    const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
    const { createTableInput } = await import('../functions/tenants/tenant-table');
    const { subscriptionOfEvent } = await import('../functions/dunning/stripe-event-processor');
    const { LocalIssuer } = await import('../infra/local/local-issuer');
    const { startLocalApi } = await import('../infra/local/http-adapter');
    const client = getDocumentClient();
    await client.send(new CreateTableCommand(createTableInput(TABLE)));
    const issuer = LocalIssuer.inMemory();
    const api = await startLocalApi({ tokens: issuer, port: 0 });
    closeApi = api.close;
    const token = issuer.mint({ subject: 'bench', role: 'operator' });

    const accounts = new Map<string, BillingAccount>();
    const tenantIds = Array.from({ length: TENANTS }, (_, i) => `bench-${String(i + 1).padStart(3, '0')}`);
    await withConcurrency(tenantIds.length, 8, async (i) => {
      const tenantId = tenantIds[i] as string;
      const created = await fetch(`${api.url}/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tenantId, name: `Bench ${tenantId}`, email: `billing@${tenantId}.example`, plan: 'starter' }),
      });
      if (created.status !== 201) throw new Error(`POST /tenants ${tenantId}: ${created.status} ${await created.text()}`);
      // POST /tenants gave the tenant its (ledger) billing account and the subscription's link item.
      const { billing } = (await created.json()) as { billing?: BillingAccount };
      if (!billing) throw new Error(`POST /tenants ${tenantId}: no billing account in the answer`);
      accounts.set(tenantId, billing);
    });

    const random = seeded(SEED);
    const events = eventStreams(random, tenantIds, accounts);
    const duplicates = Array.from({ length: DELIVERIES - events.length }, () => events[Math.floor(random() * events.length)] as BenchEvent);
    const deliveries = shuffle([...events, ...duplicates], random);

    const latencies: number[] = [];
    const answers = new Map<string, number>();
    let failed = 0;
    const began = performance.now();
    await withConcurrency(deliveries.length, CONCURRENCY, async (i) => {
      const event = deliveries[i] as BenchEvent;
      for (let attempt = 0; attempt <= MAX_REDELIVERIES; attempt += 1) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, REDELIVERY_DELAY_MS));
        const signature = Stripe.webhooks.generateTestHeaderString({ payload: event.body, secret: SECRET });
        const sent = performance.now();
        const response = await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: event.body });
        const answer = (await response.json()) as { result?: string; error?: { code?: string } };
        latencies.push(performance.now() - sent);
        const key = `${response.status} ${answer.result ?? answer.error?.code ?? ''}`;
        answers.set(key, (answers.get(key) ?? 0) + 1);
        if (answer.error?.code !== 'STRIPE_EVENT_IN_PROGRESS') {
          if (response.status !== 200) failed += 1;
          return;
        }
      }
      failed += 1;
    });
    const seconds = (performance.now() - began) / 1000;

    const byTenant = new Map<string, BenchEvent[]>();
    for (const event of events) byTenant.set(event.tenantId, [...(byTenant.get(event.tenantId) ?? []), event]);
    const now = new Date(performance.timeOrigin);
    let mismatches = 0;
    let outOfOrder = 0;
    const examples: string[] = [];
    await withConcurrency(tenantIds.length, 8, async (i) => {
      const tenantId = tenantIds[i] as string;
      const response = await fetch(`${api.url}/tenants/${tenantId}`, { headers: { authorization: `Bearer ${token}` } });
      const tenant = (await response.json()) as { state?: string; dunning?: { standing?: string } };
      const stream = byTenant.get(tenantId) ?? [];
      const expected = expectedFinals(stream, subscriptionOfEvent, now);
      if (describe(tenant) !== describe(policyOutcome(stream, subscriptionOfEvent, now))) outOfOrder += 1;
      if (!expected.has(describe(tenant))) {
        mismatches += 1;
        const newest = stream.reduce((a, b) => (b.created > a.created ? b : a));
        if (examples.length < 3) examples.push(`${tenantId}: ${describe(tenant)}, newest ${newest.type}${newest.status ? ` ${newest.status}` : ''} implies ${[...expected.keys()].join(' or ')}`);
      }
    });

    const sorted = [...latencies].sort((a, b) => a - b);
    console.log(`bench:webhooks  ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}, seed ${SEED}, ${CONCURRENCY} senders`);
    console.log(`  ${deliveries.length} signed deliveries (${events.length} events + ${duplicates.length} duplicates, shuffled) over ${TENANTS} tenants in ${seconds.toFixed(2)} s`);
    console.log(`  deliveries per second  ${(deliveries.length / seconds).toFixed(0)} (${latencies.length - deliveries.length} redeliveries after 409 STRIPE_EVENT_IN_PROGRESS)`);
    console.log(`  latency ms             P50 ${percentile(sorted, 50).toFixed(1)}  P95 ${percentile(sorted, 95).toFixed(1)}  max ${(sorted.at(-1) ?? 0).toFixed(1)}`);
    console.log(`  answers                ${[...answers].sort().map(([key, count]) => `${key}: ${count}`).join(', ')}`);
    console.log(`  final state mismatches ${mismatches} of ${TENANTS} tenants (goal 0)${examples.length ? `, e.g. ${examples.join('; ')}` : ''}`);
    console.log(`  order-dependent        ${outOfOrder} tenants end otherwise than with every event applied in order (goal 0)`);
    if (failed > 0) console.log(`  ${failed} deliveries were not acknowledged in the end (Stripe would retry them)`);
    process.exitCode = failed > 0 || mismatches > 0 ? 1 : 0;
  } finally {
    await closeApi?.();
    await emulators?.stop();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).stack ?? String(error));
  process.exit(1);
});
