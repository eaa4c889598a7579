/**
 * API Gateway HTTP API Lambda authorizer (simple responses): verifies the bearer token and hands the
 * principal to the route handlers as authorizer context. Every route but /health goes through it.
 */
import type { APIGatewayRequestAuthorizerEventV2, APIGatewaySimpleAuthorizerWithContextResult } from 'aws-lambda';
import { logger } from '../shared/powertools';
import { InvalidTokenError, bearerToken, verifyToken } from './api-tokens';
import { tokenKey } from './token-key';

export interface AuthorizerContext {
  readonly subject: string;
  readonly role: string;
  readonly tenantId: string;
  [key: string]: string;
}

export type AuthorizerResult = APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext> & {
  /** Why the request was refused (local adapter only; API Gateway ignores it). */
  readonly denial?: { code: 'TOKEN_MISSING' | 'TOKEN_INVALID'; message: string };
};

/** Plain function: the decision for one request. */
export async function authorize(event: Pick<APIGatewayRequestAuthorizerEventV2, 'headers'>): Promise<AuthorizerResult> {
  const token = bearerToken(event.headers?.authorization ?? event.headers?.Authorization);
  const deny = (code: 'TOKEN_MISSING' | 'TOKEN_INVALID', message: string): AuthorizerResult => ({
    isAuthorized: false,
    context: { subject: '', role: '', tenantId: '' },
    denial: { code, message },
  });
  if (!token) return deny('TOKEN_MISSING', 'Send an Authorization header: "Bearer <token>".');
  try {
    const principal = verifyToken(token, await tokenKey());
    return { isAuthorized: true, context: { subject: principal.subject, role: principal.role, tenantId: principal.tenantId ?? '' } };
  } catch (error) {
    if (error instanceof InvalidTokenError) {
      logger.info('Token refused', { reason: error.message });
      return deny('TOKEN_INVALID', `${error.message} Ask the operator for a valid token.`);
    }
    throw error;
  }
}

export const handler = async (event: APIGatewayRequestAuthorizerEventV2): Promise<APIGatewaySimpleAuthorizerWithContextResult<AuthorizerContext>> => {
  const { isAuthorized, context } = await authorize(event);
  return { isAuthorized, context };
};
