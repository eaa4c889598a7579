/**
 * Stripe with its secret key in Secrets Manager (AWS): the key is read on first use and kept for
 * `config.secretMaxAgeSeconds`, so no key ever sits in an environment variable or the template; a call Stripe
 * refuses for its key (a rolled key: 401, StripeAuthenticationError) re-reads it once and is made again with the
 * new key (functions/shared/secret-value.ts).
 */
import { causedBy, fromSecret, type SecretsManagerSource } from '../shared/secret-value';
import type { BillingPort } from './billing-port';
import { BillingTransientError, DeferredBillingPort } from './billing-port';

/**
 * Whether `error` (a port's error, the SDK's as its cause) is Stripe refusing the API key: HTTP 401, which the SDK
 * raises as StripeAuthenticationError (https://docs.stripe.com/error-handling#authentication-errors).
 */
export function isStripeAuthenticationFailure(error: unknown): boolean {
  return causedBy(error, (cause) => cause.type === 'StripeAuthenticationError' || cause.statusCode === 401);
}

export class SecretKeyStripeBilling extends DeferredBillingPort {
  /** `create` builds the Stripe adapter from the key (createBillingPort with the same options). */
  constructor(options: { secretArn: string; secretsManager: SecretsManagerSource; create: (stripeSecretKey: string) => BillingPort }) {
    super(
      'stripe',
      fromSecret({
        secretArn: options.secretArn,
        secretsManager: options.secretsManager,
        holds: 'Stripe key',
        build: options.create,
        unavailable: (message, cause) => new BillingTransientError(message, { cause }),
        isAuthFailure: isStripeAuthenticationFailure,
      }),
    );
  }
}
