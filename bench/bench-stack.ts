/**
 * What the benches that run the functions share: DynamoDB Local and s3rver on free loopback ports (with the
 * bench's own access key), stopped on
 * exit and on SIGINT/SIGTERM, and the stores a bench works through on one table.
 */

/** How long a signal's stop may take before the bench exits anyway (ms). */
const SIGNAL_GRACE_MS = 5000;

export interface BenchEmulators {
  readonly dynamoEndpoint: string;
  readonly s3Endpoint: string;
  /** Stop both servers (and run the bench's own clean-up first); a second call does nothing. */
  stop(): Promise<void>;
}

/**
 * Start DynamoDB Local (in memory) and s3rver (its data in `s3Directory`, with `buckets`) on free loopback
 * ports, with access keys of this run's (useLocalCredentials: every DynamoDB client of the bench signs with it,
 * DynamoDB Local keeps the bench's tables under it; useLocalS3Credentials: the S3 server's own, which it accepts alone). SIGINT and SIGTERM stop them and exit (130, 143). `cleanUp` runs first on stop (kill children,
 * remove temporary files). Throws what a server's start throws, after stopping the other.
 */
export async function startBenchEmulators(options: { readonly s3Directory: string; readonly buckets: readonly string[]; readonly cleanUp?: () => void }): Promise<BenchEmulators> {
  const { startDynamoDbLocal } = await import('../infra/local/dynamodb-local');
  const { startS3Local } = await import('../infra/local/s3-local');
  const { newLocalCredentials, useLocalCredentials, useLocalS3Credentials } = await import('../infra/local/loopback-env');
  useLocalCredentials(newLocalCredentials());
  useLocalS3Credentials(newLocalCredentials());
  const [dynamo, s3] = await Promise.allSettled([startDynamoDbLocal(), startS3Local({ directory: options.s3Directory, buckets: [...options.buckets] })]);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    options.cleanUp?.();
    await Promise.all([dynamo.status === 'fulfilled' ? dynamo.value.stop() : undefined, s3.status === 'fulfilled' ? s3.value.stop() : undefined]);
  };
  if (dynamo.status === 'rejected' || s3.status === 'rejected') {
    await stop();
    throw dynamo.status === 'rejected' ? dynamo.reason : (s3 as PromiseRejectedResult).reason;
  }
  // A server waits for its open connections to close, which an interrupted bench still holds: give it
  // SIGNAL_GRACE_MS, then exit (the servers' stdin closes with us, and they go).
  const onSignal = (code: number) => () => void Promise.race([stop(), new Promise((resolve) => setTimeout(resolve, SIGNAL_GRACE_MS))]).then(() => process.exit(code));
  process.on('SIGINT', onSignal(130));
  process.on('SIGTERM', onSignal(143));
  return { dynamoEndpoint: dynamo.value.endpoint, s3Endpoint: s3.value.endpoint, stop };
}

/**
 * The stores a bench works through, on one table of DynamoDB Local: the document client
 * (functions/shared/aws-clients.ts, its endpoint from AWS_ENDPOINT_URL_DYNAMODB), the tenant and operation
 * stores and the billing ledger. Loaded on call, after the bench has set the environment the functions'
 * configuration reads.
 */
export async function tableStores(tableName: string) {
  const { getDocumentClient } = await import('../functions/shared/aws-clients');
  const { TenantStore } = await import('../functions/tenants/tenant-store');
  const { OperationStore } = await import('../functions/operations/operation-store');
  const { LedgerBilling } = await import('../functions/billing');
  const client = getDocumentClient();
  const table = { client, tableName };
  return { client, table, tenants: new TenantStore(table), operations: new OperationStore(table), billing: new LedgerBilling(table) };
}
