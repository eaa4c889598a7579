/**
 * Stripe with its secret key in Secrets Manager (AWS): the key is read on first use, once per Lambda
 * container, so no key ever sits in an environment variable or the template.
 */
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { BillingChange, BillingPort, BillingPreview, PlanChangeRequest } from './billing-port';
import { BillingTransientError } from './billing-port';

export class SecretKeyStripeBilling implements BillingPort {
  readonly name = 'stripe' as const;
  readonly #secretArn: string;
  readonly #secretsManager: SecretsManagerClient;
  readonly #create: (stripeSecretKey: string) => BillingPort;
  #port: Promise<BillingPort> | undefined;

  /** `create` builds the Stripe adapter from the key (createBillingPort with the same options). */
  constructor(options: { secretArn: string; secretsManager: SecretsManagerClient; create: (stripeSecretKey: string) => BillingPort }) {
    this.#secretArn = options.secretArn;
    this.#secretsManager = options.secretsManager;
    this.#create = options.create;
  }

  #resolve(): Promise<BillingPort> {
    this.#port ??= this.#secretsManager
      .send(new GetSecretValueCommand({ SecretId: this.#secretArn }))
      .then(({ SecretString }) => {
        if (!SecretString) throw new Error(`Secret ${this.#secretArn} holds no Stripe key.`);
        return this.#create(SecretString.trim());
      })
      .catch((error: unknown) => {
        this.#port = undefined; // try again next time
        throw new BillingTransientError(`Could not read the Stripe key from Secrets Manager: ${(error as Error).message}`, { cause: error });
      });
    return this.#port;
  }

  async previewPlanChange(request: PlanChangeRequest): Promise<BillingPreview> {
    return (await this.#resolve()).previewPlanChange(request);
  }

  async applyPlanChange(request: PlanChangeRequest): Promise<BillingChange> {
    return (await this.#resolve()).applyPlanChange(request);
  }

  async revertPlanChange(request: PlanChangeRequest, change: BillingChange): Promise<void> {
    return (await this.#resolve()).revertPlanChange(request, change);
  }
}
