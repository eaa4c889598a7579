/**
 * Stripe with its secret key in Secrets Manager (AWS): the key is read on first use, once per Lambda
 * container, so no key ever sits in an environment variable or the template.
 */
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { fromSecret } from '../shared/secret-value';
import type { BillingChange, BillingPort, BillingPreview, PlanChangeRequest } from './billing-port';
import { BillingTransientError } from './billing-port';

export class SecretKeyStripeBilling implements BillingPort {
  readonly name = 'stripe' as const;
  readonly #resolve: () => Promise<BillingPort>;

  /** `create` builds the Stripe adapter from the key (createBillingPort with the same options). */
  constructor(options: { secretArn: string; secretsManager: SecretsManagerClient; create: (stripeSecretKey: string) => BillingPort }) {
    this.#resolve = fromSecret({
      secretArn: options.secretArn,
      secretsManager: options.secretsManager,
      holds: 'Stripe key',
      build: options.create,
      unavailable: (message, cause) => new BillingTransientError(message, { cause }),
    });
  }

  async previewPlanChange(request: PlanChangeRequest): Promise<BillingPreview> {
    return (await this.#resolve()).previewPlanChange(request);
  }

  async applyPlanChange(request: PlanChangeRequest): Promise<BillingChange> {
    return (await this.#resolve()).applyPlanChange(request);
  }

  async findAppliedChange(request: PlanChangeRequest): Promise<BillingChange | undefined> {
    return (await this.#resolve()).findAppliedChange(request);
  }

  async revertPlanChange(request: PlanChangeRequest, change: BillingChange): Promise<void> {
    return (await this.#resolve()).revertPlanChange(request, change);
  }
}
