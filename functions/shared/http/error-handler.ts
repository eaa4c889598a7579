/** Middy middleware: any error becomes the API's JSON error shape; 5xx bodies never carry internal detail. */
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { toApiError } from '../errors';
import { logger } from '../powertools';
import { jsonResponse, type ApiResult } from './response';

export function errorResponses(): middy.MiddlewareObj<APIGatewayProxyEventV2, ApiResult> {
  const errorResponsesOnError: middy.MiddlewareFn<APIGatewayProxyEventV2, ApiResult> = async (request) => {
    const error = toApiError(request.error);
    if (error.expose) logger.info('Request refused', { code: error.code, status: error.status });
    else logger.error('Request failed', { code: error.code, error: error.cause ?? error });
    request.response = jsonResponse(
      error.status,
      { error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } },
      error.headers,
    );
  };
  return { onError: errorResponsesOnError };
}
