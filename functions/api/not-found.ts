import middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { ApiError } from '../shared/errors';
import { errorResponses } from '../shared/http/error-handler';
import { requestLog } from '../shared/http/request-log';
import type { ApiResult } from '../shared/http/response';
import { matchRoute } from './routes';

/** The `$default` route: 405 (with Allow) when the path exists under other methods, else 404. */
export async function routeNotFound(event: APIGatewayProxyEventV2): Promise<ApiResult> {
  const method = event.requestContext.http.method;
  const { allowedMethods } = matchRoute(method, event.rawPath);
  if (allowedMethods.length > 0) {
    throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${method} is not supported on ${event.rawPath}; use ${allowedMethods.join(' or ')}.`, { allowedMethods }, {
      headers: { allow: allowedMethods.join(', ') },
    });
  }
  throw new ApiError(404, 'ROUTE_NOT_FOUND', `No route ${method} ${event.rawPath}; see the API reference in README.md.`);
}

export const handler = middy<APIGatewayProxyEventV2, ApiResult>().use(requestLog()).use(errorResponses()).handler(routeNotFound);
