/**
 * Picks the billing adapter: Stripe when a secret key is configured, else the local ledger, and says which in
 * the logs (and in the port's `name`), so nobody mistakes a local run for real billing.
 *
 * The Stripe SDK is loaded by the first call that bills, not when this module is: it is about 250 KB of minified
 * code (about 30 ms of a cold start to parse and run, more with its source map), paid otherwise by every function
 * that builds the plan change's dependencies, most of whose invocations never reach Stripe. Deployed, it is a
 * file of its own beside the function's index.js (./stripe-sdk.js, see LAZY_CHUNKS in
 * infra/constructs/handler-function.ts), so the cold start neither parses nor maps it.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { PLAN_IDS, type StripePriceIds } from '../plans/plan-catalog';
import { onFirstUse } from '../shared/on-first-use';
import { logger } from '../shared/powertools';
import { DeferredBillingPort, type BillingPort } from './billing-port';
import { LedgerBilling } from './ledger-billing';
import { StripeBilling } from './stripe-billing';

export * from './billing-port';
export { LedgerBilling, type LedgerEntry, type LedgerEntryKind } from './ledger-billing';
export { StripeBilling } from './stripe-billing';

export interface BillingPortOptions {
  /** Stripe secret key; absent or empty selects the local ledger. */
  readonly stripeSecretKey?: string;
  /** Stripe price id per plan (configuration's `stripePriceIds`). */
  readonly priceIds: StripePriceIds;
  /** The lifecycle table's client and name, for the local ledger. */
  readonly client: DynamoDBDocumentClient;
  readonly tableName: string;
  /** Where the Stripe API is (a local fake in tests); api.stripe.com when absent. */
  readonly stripeApi?: { readonly host: string; readonly port: number; readonly protocol: 'http' | 'https' };
}

// The plan-change step has 60 s (statemachines/plan-change.asl.json): two attempts of at most 20 s each fit, and
// Step Functions retries BillingTransientError beyond that with the same idempotency keys.
const STRIPE_TIMEOUT_MS = 20_000;
const STRIPE_NETWORK_RETRIES = 1;

/**
 * The billing port for this configuration: Stripe with a key (its SDK loaded by the first call), the local
 * ledger without.
 */
export function createBillingPort(options: BillingPortOptions): BillingPort {
  const stripeSecretKey = options.stripeSecretKey;
  if (stripeSecretKey) {
    const port = new DeferredBillingPort(
      'stripe',
      onFirstUse(async () => {
        // A plain require, kept out of the bundle (an external of HANDLER_BUNDLING): loaded now, on first use.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { Stripe } = require('./stripe-sdk') as typeof import('./stripe-sdk');
        const stripe = new Stripe(stripeSecretKey, {
          ...(options.stripeApi ?? {}),
          maxNetworkRetries: STRIPE_NETWORK_RETRIES,
          timeout: STRIPE_TIMEOUT_MS,
          appInfo: { name: 'tenant-lifecycle-control-plane' },
        });
        return new StripeBilling({ stripe, priceIds: options.priceIds });
      }),
    );
    const unpriced = PLAN_IDS.filter((plan) => !options.priceIds[plan]);
    logger.info('Billing through Stripe', { billingAdapter: port.name, stripeHost: options.stripeApi?.host ?? 'api.stripe.com', plansWithoutPrice: unpriced });
    return port;
  }
  const port = new LedgerBilling({ client: options.client, tableName: options.tableName });
  logger.warn('Billing through the local ledger: no Stripe key is configured, nobody is charged', { billingAdapter: port.name, tableName: options.tableName });
  return port;
}
