/**
 * The Stripe SDK, as the one module that loads it at run time. Required on first use by createBillingPort
 * (./index.ts); deployed, it is bundled as a file of its own beside each function's index.js (LAZY_CHUNKS in
 * infra/constructs/handler-function.ts), so a cold start does not parse it.
 */
import Stripe from 'stripe';

export { Stripe };
