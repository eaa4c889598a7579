/**
 * Stripe webhook signatures: the endpoint's signing secret (`whsec_...`) from configuration, and the check of
 * the `Stripe-Signature` header over the exact bytes received, by the Stripe SDK's own `webhooks.constructEvent`
 * (https://docs.stripe.com/webhooks#verify-events). The SDK is required on first use (./stripe-sdk, a lazy chunk
 * of its own when deployed: LAZY_CHUNKS in infra/constructs/handler-function.ts); its `webhooks` helper needs no
 * API key, so verifying never reads the Stripe key.
 */
import { config } from '../shared/config';
import { registerHttpError } from '../shared/error-catalogue';
import { getSecretsManager } from '../shared/aws-clients';
import { builtOnce, fromSecret, type SecretBacked } from '../shared/secret-value';

/**
 * How old a signature's timestamp may be, in seconds: the Stripe SDKs' default (`DEFAULT_TOLERANCE`, 300 s,
 * https://docs.stripe.com/webhooks#replay-attacks), against replayed deliveries. A retry by Stripe is signed anew.
 */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

/** The request header Stripe signs deliveries in (`t=<timestamp>,v1=<signature>`). */
export const STRIPE_SIGNATURE_HEADER = 'stripe-signature';

/**
 * This deployment has no usable signing secret: the delivery is refused unread with 500 INTERNAL_ERROR (the cause
 * in the logs, not the answer), and Stripe keeps retrying it for up to 3 days while the secret is put in place.
 */
export class WebhookSecretUnavailableError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'WebhookSecretUnavailableError';
  }
}

let secretFromSecretsManager: SecretBacked<string> | undefined;

/** Where the signing secret comes from now (read on use: the local stack and tests set the variables late). */
async function signingSecretSource(): Promise<SecretBacked<string>> {
  const direct = config.stripeWebhookSecret;
  if (direct) return builtOnce(() => Promise.resolve(direct));
  const secretArn = config.stripeWebhookSecretArn;
  if (!secretArn) {
    throw new WebhookSecretUnavailableError('Stripe webhooks are not configured on this deployment (no signing secret): set STRIPE_WEBHOOK_SECRET, or STRIPE_WEBHOOK_SECRET_ARN on AWS.');
  }
  secretFromSecretsManager ??= fromSecret({
    secretArn,
    secretsManager: getSecretsManager,
    holds: 'Stripe webhook signing secret',
    build: (secret) => secret,
    unavailable: (message, cause) => new WebhookSecretUnavailableError(message, cause),
    // A signature that does not match may be the first delivery signed with a rolled secret.
    isAuthFailure: (error) => error instanceof StripeWebhookRefusedError && error.signatureMismatch,
  });
  return secretFromSecretsManager;
}

/**
 * The webhook signing secret: `STRIPE_WEBHOOK_SECRET` (local stack, tests), else the Secrets Manager secret
 * `STRIPE_WEBHOOK_SECRET_ARN` (AWS; kept `config.secretMaxAgeSeconds`). Its `use(verify)` re-reads the secret once
 * when `verify` refuses a signature that does not match (a rolled secret), at most once per
 * SECRET_FORCED_REFRESH_INTERVAL_SECONDS, so forged deliveries cannot flood Secrets Manager. Rejects with
 * WebhookSecretUnavailableError (500) when neither is set or the secret cannot be read.
 */
export const stripeWebhookSecret: SecretBacked<string> = Object.assign(async () => (await signingSecretSource())(), {
  use: async <R>(call: (secret: string) => Promise<R>): Promise<R> => (await signingSecretSource()).use(call),
});

/**
 * A delivery refused before anything is read or changed (400): its signature does not verify
 * (STRIPE_SIGNATURE_INVALID), or the signed body is not JSON (MALFORMED_JSON) or is a v2 "thin" event notification
 * (VALIDATION_FAILED). The message says what to fix and never holds the secret.
 */
export class StripeWebhookRefusedError extends Error {
  readonly code: 'STRIPE_SIGNATURE_INVALID' | 'MALFORMED_JSON' | 'VALIDATION_FAILED';
  /** A well-formed, fresh signature that does not match with the secret used: the one refusal a rolled secret explains. */
  readonly signatureMismatch: boolean;

  constructor(code: StripeWebhookRefusedError['code'], message: string, options: { signatureMismatch?: boolean } = {}) {
    super(message);
    this.name = 'StripeWebhookRefusedError';
    this.code = code;
    this.signatureMismatch = options.signatureMismatch ?? false;
  }
}
registerHttpError(StripeWebhookRefusedError, { status: 400 });

function refused(message: string, options?: { signatureMismatch: boolean }): StripeWebhookRefusedError {
  return new StripeWebhookRefusedError('STRIPE_SIGNATURE_INVALID', message, options);
}

/** The `t=` of a Stripe-Signature header, in seconds, or undefined. */
function signedAt(header: string): number | undefined {
  const t = /(?:^|,)\s*t=(\d+)/.exec(header)?.[1];
  return t === undefined ? undefined : Number(t);
}

/**
 * Verify `header` (the Stripe-Signature value) over `payload` (the exact bytes received) with `secret`, within
 * STRIPE_SIGNATURE_TOLERANCE_SECONDS of the wall clock (Stripe signs with real time, so never the local stack's
 * simulated clock), and answer the parsed body. Throws StripeWebhookRefusedError (400): STRIPE_SIGNATURE_INVALID
 * saying what to fix when the header is missing or malformed, the signature does not match, or it is stale;
 * MALFORMED_JSON when a correctly signed body is not JSON; VALIDATION_FAILED for a thin event.
 */
export function verifyStripeSignature(payload: Buffer, header: string | undefined, secret: string): unknown {
  if (!header) {
    throw refused(
      'The Stripe-Signature header is missing: deliver the event as Stripe sends it (a webhook endpoint, or `stripe listen --forward-to`), or sign the exact body with stripe.webhooks.generateTestHeaderString and this endpoint\'s signing secret.',
    );
  }
  // A plain require, kept out of the bundle (an external of HANDLER_BUNDLING): loaded now, on first use.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Stripe } = require('./stripe-sdk') as typeof import('./stripe-sdk');
  try {
    return Stripe.webhooks.constructEvent(payload, header, secret, STRIPE_SIGNATURE_TOLERANCE_SECONDS);
  } catch (error) {
    if (error instanceof SyntaxError) throw new StripeWebhookRefusedError('MALFORMED_JSON', `The signed body is not valid JSON: ${error.message}`);
    // Verified, but a v2 "thin" event notification, which constructEvent does not take.
    if (error instanceof Error && /thin event/i.test(error.message)) {
      throw new StripeWebhookRefusedError('VALIDATION_FAILED', 'This endpoint takes snapshot events (API v1 Event objects): configure the event destination with the snapshot payload.');
    }
    if (!(error instanceof Stripe.errors.StripeSignatureVerificationError)) throw error;
    const timestamp = signedAt(header);
    if (timestamp === undefined || !/(?:^|,)\s*v1=/.test(header)) {
      throw refused('The Stripe-Signature header is not a Stripe signature: it must read t=<timestamp>,v1=<signature>[,v1=...], as Stripe sends it.');
    }
    if (/tolerance/i.test(error.message)) {
      // The wall clock, as the SDK's own check (Stripe signs with real time).
      const age = Math.floor(Date.now() / 1000) - timestamp; // eslint-disable-line no-restricted-syntax
      throw refused(
        `The Stripe-Signature timestamp is ${age} s old, older than the ${STRIPE_SIGNATURE_TOLERANCE_SECONDS} s Stripe allows (a replayed delivery?): send a freshly signed delivery; Stripe signs each retry anew.`,
      );
    }
    throw refused(
      'The Stripe-Signature does not match the body: sign the exact bytes you send with this endpoint\'s signing secret (whsec_...). A body that was altered, or re-serialized with other spacing or key order, no longer matches; forward the raw body unchanged.',
      { signatureMismatch: true },
    );
  }
}
