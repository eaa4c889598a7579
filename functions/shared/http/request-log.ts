/**
 * One log entry per API request: method, path, status, duration and caller, with API Gateway's request id
 * as the Powertools correlation id on every entry logged while the request runs. The local adapter prints
 * the same fields as one line (`requestLine`).
 */
import type middy from '@middy/core';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { logger } from '../powertools';
import { callerOf } from './principal';
import type { ApiResult } from './response';

/** The fields of a request's log entry. */
export interface RequestLogEntry {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly durationMs: number;
  /** `role:subject` of the verified token (`operator:ops@example.com`), or `anonymous`. */
  readonly caller: string;
}

/** `role:subject` of an authorizer context, or `anonymous` when there is none (GET /health, a refused token). */
export function callerLabel(context: { readonly role?: string; readonly subject?: string } | undefined): string {
  return context?.role && context.subject ? `${context.role}:${context.subject}` : 'anonymous';
}

/** The local stack's line: `POST /tenants/acme-corp/suspend 200 12ms operator:ana@ana-laptop`. */
export function requestLine(entry: RequestLogEntry): string {
  return `${entry.method} ${entry.path} ${entry.status} ${entry.durationMs}ms ${entry.caller}`;
}

/**
 * Middy middleware, outermost: sets the correlation id before anything logs, writes the request's entry
 * once the response (an error's included) is final, then clears the request's keys, so the next invocation of
 * a warm Lambda starts clean.
 */
export function requestLog(): middy.MiddlewareObj<APIGatewayProxyEventV2, ApiResult> {
  const started = new WeakMap<object, number>();
  const write = (request: middy.Request<APIGatewayProxyEventV2, ApiResult>) => {
    const { event, response } = request;
    const entry: RequestLogEntry = {
      method: event.requestContext.http.method,
      path: event.rawPath,
      status: response?.statusCode ?? 500,
      durationMs: Math.round(performance.now() - (started.get(event) ?? performance.now())),
      caller: callerLabel(callerOf(event)),
    };
    logger.info('Request', { ...entry });
    logger.resetKeys();
  };
  return {
    before: (request) => {
      started.set(request.event, performance.now());
      logger.setCorrelationId(request.event.requestContext.requestId);
    },
    after: write,
    // Runs after the inner error middleware has made the error's response (middy runs every onError).
    onError: write,
  };
}
