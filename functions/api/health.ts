import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { jsonResponse, type ApiResult } from '../shared/http/response';

/** GET /health: unauthenticated liveness check; touches nothing. */
export const handler = async (_event: APIGatewayProxyEventV2): Promise<ApiResult> => jsonResponse(200, { status: 'ok' });
