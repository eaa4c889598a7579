/**
 * Counts the requests a DynamoDB client sends, per operation (GetItem, UpdateItem, TransactWriteItems,
 * Query...), with a middleware on the client's own stack: what DynamoDB is asked to serve, measured rather
 * than estimated. Used by `npm run bench:plan-change`, `npm run bench:deletion` and by the calls-budget test.
 * Any AWS SDK v3 client has the same stack: `npm run bench:deletion` counts its S3 requests with it too.
 */
import { performance } from 'node:perf_hooks';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

/** An AWS SDK v3 client (DynamoDB, its document client, S3...): what the counter needs of it. */
type SdkClient = Pick<DynamoDBDocumentClient, 'middlewareStack'>;

export interface DynamoDbCallCounter {
  /** Requests per DynamoDB operation since the last reset (e.g. `{ GetItem: 2, TransactWriteItems: 3 }`). */
  counts(): Record<string, number>;
  /** Requests of every operation since the last reset. */
  total(): number;
  /**
   * Milliseconds each operation's requests took since the last reset, summed (from sending to the answer, queueing in
   * the client's socket pool and in the server included: under concurrency, the sum exceeds the wall time).
   */
  milliseconds(): Record<string, number>;
  reset(): void;
  /** Take the middleware off the client. */
  remove(): void;
}

const MIDDLEWARE_NAME = 'dynamoDbCallCounter';

/**
 * Count every request `client` sends from now on. The middleware sits in the `finalizeRequest` step after the
 * SDK's retry middleware, so an SDK retry counts as the request it is; the operation name is the command's
 * without its `Command` suffix (a document client's GetCommand sends GetItem).
 */
export function countDynamoDbCalls(client: SdkClient): DynamoDbCallCounter {
  let counts: Record<string, number> = {};
  let milliseconds: Record<string, number> = {};
  // Typed by hand: the stack's middleware type is a union of every step's, which TypeScript cannot infer from.
  const middleware = (next: (args: unknown) => Promise<unknown>, context: { readonly commandName?: string }) => async (args: unknown) => {
    const name = String(context.commandName ?? 'Unknown').replace(/Command$/, '');
    counts[name] = (counts[name] ?? 0) + 1;
    const started = performance.now();
    try {
      return await next(args);
    } finally {
      milliseconds[name] = (milliseconds[name] ?? 0) + (performance.now() - started);
    }
  };
  (client.middlewareStack as SdkClient['middlewareStack']).addRelativeTo(middleware as never, { relation: 'after', toMiddleware: 'retryMiddleware', name: MIDDLEWARE_NAME, override: true });
  return {
    counts: () => ({ ...counts }),
    total: () => Object.values(counts).reduce((sum, n) => sum + n, 0),
    milliseconds: () => ({ ...milliseconds }),
    reset: () => {
      counts = {};
      milliseconds = {};
    },
    remove: () => {
      client.middlewareStack.remove(MIDDLEWARE_NAME);
    },
  };
}
