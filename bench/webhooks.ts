/**
 * Stripe webhook deliveries at scale, over HTTP against the local API (the http adapter and the deployed handler
 * modules, DynamoDB Local and s3rver started here on free loopback ports):
 *
 * - 100 tenants created through POST /tenants, each with a subscription link (see PRE-MERGE below);
 * - per tenant, a seeded random stream of `invoice.payment_failed`, `invoice.paid` and
 *   `customer.subscription.updated` (status past_due, unpaid or active) with increasing `created`;
 * - 1,000 deliveries: every event once plus 20% duplicates (the same event id and body, signed anew as Stripe
 *   signs each retry), in shuffled order, each signed with `stripe.webhooks.generateTestHeaderString` (the real
 *   SDK) and sent to POST /webhooks/stripe by BENCH_CONCURRENCY (default 8) senders;
 * - then each tenant read back (GET /tenants/{id}) and its state compared with what its newest event implies.
 *
 * Prints deliveries per second, P50/P95/max latency, the answers by status and result, and the count of
 * tenants whose final state is not what their newest event implies (goal 0). Exits 1 when a delivery failed
 * or a tenant mismatched.
 *
 *   npm run bench:webhooks      BENCH_SEED=7 another event stream; BENCH_CONCURRENCY=16 more senders
 *
 * Before the Stripe event processor exists (functions/dunning/stripe-event-processor.ts is a stub on this branch)
 * every verified delivery answers 500 and the bench reports those errors and the mismatches: it runs end to end,
 * its figures are final only once the processor and the dunning policy are merged.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Stripe from 'stripe';
import { applyLoopbackEnvironment } from '../infra/local/loopback-env';
import { startBenchEmulators, type BenchEmulators } from './bench-stack';
import { seeded, withConcurrency } from './seeded';

applyLoopbackEnvironment();
// Before any function module loads: the logger and metrics read these at import.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
const TABLE = 'bench-webhooks';
const TENANTS = 100;
const DELIVERIES = 1_000;
const DUPLICATE_SHARE = 0.2;
const SEED = Number(process.env.BENCH_SEED ?? 10);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8);
const SECRET = `whsec_bench${'0'.repeat(32)}`;

type DunningEventType = 'invoice.payment_failed' | 'invoice.paid' | 'customer.subscription.updated';
type SubscriptionStatus = 'past_due' | 'unpaid' | 'active';

/** One event of a tenant's stream, and the Stripe Event object sent for it. */
interface BenchEvent {
  readonly tenantId: string;
  readonly subscriptionId: string;
  readonly type: DunningEventType;
  /** For customer.subscription.updated: the subscription's new status. */
  readonly status?: SubscriptionStatus;
  readonly created: number;
  readonly body: string;
}

/**
 * EXPECTATION — wire to the dunning policy after merge: the tenant state the newest event of a subscription
 * implies, with no time passing (so a grace period has not run out). Until functions/dunning/dunning-policy.ts
 * (the "dunning" helper's) is on this branch, this restates issue #10's ladder: payment failed or past_due →
 * grace (the tenant stays `active`, read_write); unpaid → `suspended`; paid or active → `active`. After the merge,
 * replace the body with the policy module's own mapping, so the bench checks the one rule rather than a copy.
 */
function expectedFinalState(newest: BenchEvent): 'active' | 'suspended' {
  if (newest.type === 'customer.subscription.updated' && newest.status === 'unpaid') return 'suspended';
  return 'active';
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** The Stripe Event object for one event of the stream (invoice events name their subscription where current API versions put it). */
function eventBody(id: string, event: Omit<BenchEvent, 'body'>): string {
  const object =
    event.type === 'customer.subscription.updated'
      ? { id: event.subscriptionId, object: 'subscription', status: event.status, customer: `cus_${event.tenantId}` }
      : {
          id: `in_${id.slice(4)}`,
          object: 'invoice',
          customer: `cus_${event.tenantId}`,
          status: event.type === 'invoice.paid' ? 'paid' : 'open',
          parent: { type: 'subscription_details', subscription_details: { subscription: event.subscriptionId, metadata: {} } },
        };
  return JSON.stringify({ id, object: 'event', api_version: '2025-03-31.basil', created: event.created, data: { object }, livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type: event.type });
}

/** Every tenant's stream: 8 events each (800 in all), of seeded types, `created` increasing per tenant. */
function eventStreams(random: () => number, tenantIds: readonly string[]): BenchEvent[] {
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
      const partial = { tenantId, subscriptionId: `sub_bench_${tenantId}`, type, ...(status ? { status } : {}), created };
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
    process.env.TOKEN_SECRET = 'bench-token-secret-that-is-long-enough-0123456789';
    process.env.STRIPE_WEBHOOK_SECRET = SECRET;
    const { getDocumentClient } = await import('../functions/shared/aws-clients');
    const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
    const { PutCommand } = await import('@aws-sdk/lib-dynamodb');
    const { createTableInput } = await import('../functions/tenants/tenant-table');
    const { subscriptionLinkItem } = await import('../functions/billing/subscription-links');
    const { signToken } = await import('../functions/auth/api-tokens');
    const { startLocalApi } = await import('../infra/local/http-adapter');
    const client = getDocumentClient();
    await client.send(new CreateTableCommand(createTableInput(TABLE)));
    const api = await startLocalApi({ port: 0 });
    closeApi = api.close;
    const token = signToken({ subject: 'bench', role: 'operator' }, process.env.TOKEN_SECRET);

    const tenantIds = Array.from({ length: TENANTS }, (_, i) => `bench-${String(i + 1).padStart(3, '0')}`);
    await withConcurrency(tenantIds.length, 8, async (i) => {
      const tenantId = tenantIds[i] as string;
      const created = await fetch(`${api.url}/tenants`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ tenantId, name: `Bench ${tenantId}`, email: `billing@${tenantId}.example`, plan: 'starter' }),
      });
      if (created.status !== 201) throw new Error(`POST /tenants ${tenantId}: ${created.status} ${await created.text()}`);
      // PRE-MERGE: the "customer" helper makes POST /tenants give each tenant a billing account and its link item;
      // until then the bench writes the link itself. After the merge, drop this put and read the tenant's
      // subscription id from the created tenant instead of naming it here.
      await client.send(new PutCommand({ TableName: TABLE, Item: subscriptionLinkItem(tenantId, { customerId: `cus_${tenantId}`, subscriptionId: `sub_bench_${tenantId}`, subscriptionItemId: `si_bench_${tenantId}` }) }));
    });

    const random = seeded(SEED);
    const events = eventStreams(random, tenantIds);
    const duplicates = Array.from({ length: DELIVERIES - events.length }, () => events[Math.floor(random() * events.length)] as BenchEvent);
    const deliveries = shuffle([...events, ...duplicates], random);

    const latencies: number[] = [];
    const answers = new Map<string, number>();
    const began = performance.now();
    await withConcurrency(deliveries.length, CONCURRENCY, async (i) => {
      const event = deliveries[i] as BenchEvent;
      const signature = Stripe.webhooks.generateTestHeaderString({ payload: event.body, secret: SECRET });
      const sent = performance.now();
      const response = await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature }, body: event.body });
      const answer = (await response.json()) as { result?: string; error?: { code?: string } };
      latencies.push(performance.now() - sent);
      const key = `${response.status} ${answer.result ?? answer.error?.code ?? ''}`;
      answers.set(key, (answers.get(key) ?? 0) + 1);
    });
    const seconds = (performance.now() - began) / 1000;

    const newest = new Map<string, BenchEvent>();
    for (const event of events) if ((newest.get(event.tenantId)?.created ?? -1) < event.created) newest.set(event.tenantId, event);
    let mismatches = 0;
    const examples: string[] = [];
    await withConcurrency(tenantIds.length, 8, async (i) => {
      const tenantId = tenantIds[i] as string;
      const response = await fetch(`${api.url}/tenants/${tenantId}`, { headers: { authorization: `Bearer ${token}` } });
      const tenant = (await response.json()) as { state?: string };
      const expected = expectedFinalState(newest.get(tenantId) as BenchEvent);
      if (tenant.state !== expected) {
        mismatches += 1;
        if (examples.length < 3) examples.push(`${tenantId}: ${tenant.state} (newest ${newest.get(tenantId)?.type}${newest.get(tenantId)?.status ? ` ${newest.get(tenantId)?.status}` : ''} implies ${expected})`);
      }
    });

    const sorted = [...latencies].sort((a, b) => a - b);
    const failed = [...answers].filter(([key]) => !key.startsWith('200')).reduce((sum, [, count]) => sum + count, 0);
    console.log(`bench:webhooks  ${cpus().length} cores, load average ${loadavg()[0]?.toFixed(1)}, seed ${SEED}, ${CONCURRENCY} senders`);
    console.log(`  ${deliveries.length} signed deliveries (${events.length} events + ${duplicates.length} duplicates, shuffled) over ${TENANTS} tenants in ${seconds.toFixed(2)} s`);
    console.log(`  deliveries per second  ${(deliveries.length / seconds).toFixed(0)}`);
    console.log(`  latency ms             P50 ${percentile(sorted, 50).toFixed(1)}  P95 ${percentile(sorted, 95).toFixed(1)}  max ${(sorted.at(-1) ?? 0).toFixed(1)}`);
    console.log(`  answers                ${[...answers].sort().map(([key, count]) => `${key}: ${count}`).join(', ')}`);
    console.log(`  final state mismatches ${mismatches} of ${TENANTS} tenants (goal 0)${examples.length ? `, e.g. ${examples.join('; ')}` : ''}`);
    if (failed > 0) console.log(`  ${failed} deliveries were not acknowledged (Stripe would retry them)`);
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
