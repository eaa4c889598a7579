/**
 * Picks the billing adapter: Stripe when a secret key is configured, else the local ledger, and says which in
 * the logs (and in the port's `name`), so nobody mistakes a local run for real billing.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import Stripe from 'stripe';
import { PLAN_IDS, type StripePriceIds } from '../plans/plan-catalog';
import { logger } from '../shared/powertools';
import type { BillingPort } from './billing-port';
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

/** The billing port for this configuration: Stripe with a key, the local ledger without. */
export function createBillingPort(options: BillingPortOptions): BillingPort {
  if (options.stripeSecretKey) {
    const stripe = new Stripe(options.stripeSecretKey, {
      ...(options.stripeApi ?? {}),
      maxNetworkRetries: STRIPE_NETWORK_RETRIES,
      timeout: STRIPE_TIMEOUT_MS,
      appInfo: { name: 'tenant-lifecycle-control-plane' },
    });
    const port = new StripeBilling({ stripe, priceIds: options.priceIds });
    const unpriced = PLAN_IDS.filter((plan) => !options.priceIds[plan]);
    logger.info('Billing through Stripe', { billingAdapter: port.name, stripeHost: options.stripeApi?.host ?? 'api.stripe.com', plansWithoutPrice: unpriced });
    return port;
  }
  const port = new LedgerBilling({ client: options.client, tableName: options.tableName });
  logger.warn('Billing through the local ledger: no Stripe key is configured, nobody is charged', { billingAdapter: port.name, tableName: options.tableName });
  return port;
}
