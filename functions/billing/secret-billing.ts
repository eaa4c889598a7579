/**
 * Stripe with its secret key in Secrets Manager (AWS): the key is read on first use, once per Lambda
 * container, so no key ever sits in an environment variable or the template.
 */
import { fromSecret, type SecretsManagerSource } from '../shared/secret-value';
import type { BillingPort } from './billing-port';
import { BillingTransientError, DeferredBillingPort } from './billing-port';

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
      }),
    );
  }
}
