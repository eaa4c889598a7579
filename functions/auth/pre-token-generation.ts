/**
 * Amazon Cognito's pre token generation trigger of the stack's user pool (event version V3_0, which needs the
 * Essentials or Plus feature plan): it names the tenant of a tenant-scoped access token in the tenant claim
 * (`tenant_id` by default), which API Gateway passes on to the handlers (`principalFromClaims`).
 *
 * - Client credentials (`TokenGeneration_ClientCredentials`, the application plane's app client): the tenant is
 *   what the token request asks for in its client metadata, `aws_client_metadata={"tenant_id":"acme"}` on the
 *   token endpoint (or `ClientMetadata` of GetClientToken). Cognito neither validates nor stores client metadata,
 *   so it is checked here against the tenant id rule; a request without a valid one gets no token at all (the
 *   trigger fails, so Cognito refuses the token request), rather than a tenant token no tenant route would accept.
 * - A user's sign-in (any other trigger source): a user with a `custom:tenant_id` attribute is that tenant's user:
 *   the access token gets the tenant claim and the tenant scope instead of the operator scope, whichever app client
 *   signed them in. A user without it is an operator (unchanged token). A `custom:tenant_id` that is not a tenant
 *   id fails the sign-in. Client metadata is never read for a user: a user could send any.
 *
 * Source: Amazon Cognito developer guide, "Pre token generation Lambda trigger" (request `clientMetadata`,
 * `userAttributes`, `scopes`; response `claimsAndScopeOverrideDetails.accessTokenGeneration` with
 * `claimsToAddOrOverride`, `scopesToAdd`, `scopesToSuppress`).
 */
import type { BasePreTokenGenerationV3TriggerEvent } from 'aws-lambda';
import { TENANT_ID_PATTERN, TENANT_ID_RULE } from '../tenants/tenant-schemas';
import { logger } from '../shared/powertools';
import { claimMapping, type ClaimMapping } from './jwt-claims';

/** The V3_0 event for any trigger source (client credentials, hosted sign-in, API sign-in, refresh). */
export type PreTokenGenerationEvent = BasePreTokenGenerationV3TriggerEvent<string>;

/** The trigger source of a client-credentials grant (machine-to-machine). */
export const CLIENT_CREDENTIALS_SOURCE = 'TokenGeneration_ClientCredentials';
/** The key of the client metadata naming the tenant, and the user attribute that makes a user a tenant's. */
export const TENANT_METADATA_KEY = 'tenant_id';
export const TENANT_USER_ATTRIBUTE = 'custom:tenant_id';

/** A token request the trigger refuses: Cognito then issues no token. */
export class TokenRequestRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRequestRefusedError';
  }
}

function validTenantId(value: unknown): value is string {
  return typeof value === 'string' && TENANT_ID_PATTERN.test(value);
}

/**
 * The event with its response set: the tenant claim (and, for a tenant's user, the tenant scope in place of the
 * operator scope) added to the access token. Throws TokenRequestRefusedError for a client-credentials request
 * without a valid `tenant_id` in its client metadata, or a user whose `custom:tenant_id` is not a tenant id.
 */
export function customizeToken(event: PreTokenGenerationEvent, mapping: ClaimMapping = claimMapping()): PreTokenGenerationEvent {
  if (event.triggerSource === CLIENT_CREDENTIALS_SOURCE) {
    const tenantId = event.request.clientMetadata?.[TENANT_METADATA_KEY];
    if (!validTenantId(tenantId)) {
      throw new TokenRequestRefusedError(
        `A client-credentials token names one tenant: send aws_client_metadata={"${TENANT_METADATA_KEY}":"<tenant id>"} with the token request ` +
          `(${TENANT_ID_RULE})${tenantId === undefined ? '' : `; got ${JSON.stringify(tenantId)}`}.`,
      );
    }
    return withAccessToken(event, { claimsToAddOrOverride: { [mapping.tenantClaim]: tenantId } });
  }
  const tenantId = event.request.userAttributes?.[TENANT_USER_ATTRIBUTE];
  if (tenantId === undefined) return event;
  if (!validTenantId(tenantId)) {
    throw new TokenRequestRefusedError(`User ${event.userName} has ${TENANT_USER_ATTRIBUTE} ${JSON.stringify(tenantId)}, which is not a tenant id; fix the attribute.`);
  }
  return withAccessToken(event, {
    claimsToAddOrOverride: { [mapping.tenantClaim]: tenantId },
    scopesToAdd: [mapping.tenantScope],
    scopesToSuppress: [mapping.operatorScope],
  });
}

function withAccessToken(
  event: PreTokenGenerationEvent,
  accessTokenGeneration: NonNullable<PreTokenGenerationEvent['response']['claimsAndScopeOverrideDetails']['accessTokenGeneration']>,
): PreTokenGenerationEvent {
  return { ...event, response: { claimsAndScopeOverrideDetails: { ...event.response?.claimsAndScopeOverrideDetails, accessTokenGeneration } } };
}

/** The Lambda entry point Cognito invokes. */
export async function handler(event: PreTokenGenerationEvent): Promise<PreTokenGenerationEvent> {
  try {
    const customized = customizeToken(event);
    const tenantId = customized.response.claimsAndScopeOverrideDetails?.accessTokenGeneration?.claimsToAddOrOverride?.[claimMapping().tenantClaim];
    logger.info('Token customized', { triggerSource: event.triggerSource, clientId: event.callerContext?.clientId, ...(tenantId ? { tenantId } : {}) });
    return customized;
  } catch (error) {
    if (error instanceof TokenRequestRefusedError) logger.warn('Token request refused', { triggerSource: event.triggerSource, clientId: event.callerContext?.clientId, reason: error.message });
    throw error;
  }
}
