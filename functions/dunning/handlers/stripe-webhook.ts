/**
 * POST /webhooks/stripe: Stripe's webhook deliveries (https://docs.stripe.com/webhooks). No bearer token: the
 * route is public at API Gateway and proves its caller here, by the Stripe-Signature header, verified on the exact
 * bytes received (base64-decoded first when API Gateway encoded them) before anything is parsed or changed.
 *
 * Then the event goes to the one Stripe event processor (the EventBridge path calls the same one), inline: it
 * deduplicates on the event id (Powertools' idempotency utility) and commits before this answers, so a 200 means
 * the event's effect is stored, and a failure worth retrying (the table or Stripe unavailable) is a 500 that
 * Stripe redelivers (for up to 3 days).
 * The processor's work is a few reads and one transaction, well inside Stripe's timeout; a queue in front of it
 * would acknowledge sooner, at the cost of a second path to run and watch, and of a 200 that promises nothing.
 *
 * Answers: 200 `{ received: true, result }` (result: applied, no_change, duplicate, stale or ignored — an
 * unknown event type is `ignored`); 400 STRIPE_SIGNATURE_INVALID (missing, malformed, wrong secret, altered or
 * stale), MALFORMED_UTF8, MALFORMED_JSON or VALIDATION_FAILED (signed, but not a Stripe event), with nothing
 * changed and the processor not called; 409 STRIPE_EVENT_IN_PROGRESS while another delivery of the same event is
 * being processed (Stripe delivers it again later, and gets `duplicate`); 413 past API Gateway's 10 MB only (the
 * API's 64 KiB limit does not apply: Stripe does not shrink its events); 500 when processing failed. No
 * Idempotency-Key: the event id is the key.
 */
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { STRIPE_SIGNATURE_HEADER, stripeWebhookSecret, verifyStripeSignature } from '../../billing/stripe-webhook-signature';
import { API_GATEWAY_MAX_BODY_BYTES, rawRequestBody, refuseQuery, routeMiddleware, type RouteHandler } from '../../shared/http/api-handler';
import { ApiError } from '../../shared/errors';
import { callWith } from '../../shared/secret-value';
import { jsonResponse, type ApiResult } from '../../shared/http/response';
import { logger } from '../../shared/powertools';
import { StripeEventInProgressError, parseStripeEvent } from '../stripe-event-delivery';
import { processStripeEvent, type StripeEventDelivery, type StripeEventEnvelope, type StripeEventOutcome } from '../stripe-event-processor';

export interface StripeWebhookDependencies {
  /** The processor the verified event goes to (processStripeEvent deployed; a stand-in in tests). */
  readonly process: (event: StripeEventEnvelope, delivery: StripeEventDelivery) => Promise<StripeEventOutcome>;
  /** The endpoint's signing secret (`whsec_...`); a SecretBacked (stripeWebhookSecret) to be re-read after a mismatch. */
  readonly signingSecret: () => Promise<string>;
}

/** The webhook's plain function: verify, parse, process. Throws ApiError for a refused delivery (see the module comment). */
export async function receiveStripeWebhook(event: APIGatewayProxyEventV2, dependencies: StripeWebhookDependencies): Promise<ApiResult> {
  refuseQuery(event);
  const payload = rawRequestBody(event, API_GATEWAY_MAX_BODY_BYTES);
  // With the secret from Secrets Manager, a mismatch re-reads it once (a rolled secret) and verifies again.
  const body = await callWith(dependencies.signingSecret, async (secret) => verifyStripeSignature(payload, event.headers?.[STRIPE_SIGNATURE_HEADER], secret));
  const parsed = parseStripeEvent(body);
  if ('refusal' in parsed) throw parsed.refusal;
  logger.appendKeys({ stripeEventId: parsed.event.id, stripeEventType: parsed.event.type });
  const outcome = await dependencies.process(parsed.event, { channel: 'webhook' }).catch((error: unknown) => {
    if (error instanceof StripeEventInProgressError) throw new ApiError(409, 'STRIPE_EVENT_IN_PROGRESS', `${error.message} Stripe retries the delivery.`);
    throw error;
  });
  logger.info('Stripe event processed', { channel: 'webhook', outcome });
  return jsonResponse(200, { received: true, result: outcome.result });
}

/** The route's Lambda handler with these dependencies (the deployed one: `handler`). */
export function stripeWebhookHandler(dependencies: Partial<StripeWebhookDependencies> = {}): RouteHandler {
  const resolved: StripeWebhookDependencies = { process: processStripeEvent, signingSecret: stripeWebhookSecret, ...dependencies };
  return routeMiddleware().handler((event) => receiveStripeWebhook(event, resolved)) as unknown as RouteHandler;
}

export const handler = stripeWebhookHandler();
