/**
 * Keep every AWS client on this machine, and the local emulators' data to their own clients.
 */
import { randomBytes } from 'node:crypto';

/** An access key pair for the local emulators (DynamoDB Local, the local S3 server). */
export interface LocalCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

/**
 * A new random key pair: `LOCAL` and 20 random upper-case hex digits (80 bits), a secret of 40 random base64url
 * characters. DynamoDB Local keeps one database per access key id and region (without `-sharedDb`) and checks no
 * signature, so the access key id is what keeps its data from anyone else who can reach its port: it must be
 * unguessable, never a constant. Upper-case letters and digits only: DynamoDB Local names the database file
 * `<accessKeyId>_<region>.db`.
 */
export function newLocalCredentials(): LocalCredentials {
  return { accessKeyId: `LOCAL${randomBytes(10).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') };
}

/**
 * The environment variables holding the local S3 server's own key: S3 clients with a local endpoint sign with it
 * (functions/shared/config.ts reads the same names), and the server accepts it alone. A key of its own, never the
 * DynamoDB Local key: a presigned URL shows its access key id (`X-Amz-Credential`) to whoever holds the link, and
 * DynamoDB Local, which verifies no signature, would let that id alone into the tenants' table.
 */
export const LOCAL_S3_KEY_VARIABLES = { accessKeyId: 'S3_LOCAL_ACCESS_KEY_ID', secretAccessKey: 'S3_LOCAL_SECRET_ACCESS_KEY' } as const;

/**
 * Make `credentials` the key of the local S3 server for this process and the processes it starts
 * (LOCAL_S3_KEY_VARIABLES of `env`); answers `env`.
 */
export function useLocalS3Credentials(credentials: LocalCredentials, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  env[LOCAL_S3_KEY_VARIABLES.accessKeyId] = credentials.accessKeyId;
  env[LOCAL_S3_KEY_VARIABLES.secretAccessKey] = credentials.secretAccessKey;
  return env;
}

/** The local S3 server's key from the environment (LOCAL_S3_KEY_VARIABLES), or undefined where none is set (LocalStack). */
export function localS3Credentials(env: NodeJS.ProcessEnv = process.env): LocalCredentials | undefined {
  const accessKeyId = env[LOCAL_S3_KEY_VARIABLES.accessKeyId];
  const secretAccessKey = env[LOCAL_S3_KEY_VARIABLES.secretAccessKey];
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}

/**
 * Make `credentials` the ones every AWS client of this process (and of the processes it starts) signs with, except
 * the S3 clients of a local S3 server (useLocalS3Credentials).
 */
export function useLocalCredentials(credentials: LocalCredentials, env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
  env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;
  delete env.AWS_SESSION_TOKEN;
}

/**
 * Keep every AWS client on this machine: credentials (so the SDK never probes the instance-metadata address;
 * random ones, see newLocalCredentials, when none are set), a fixed region, and STS pointed at a closed loopback
 * port (so the CDK CLI cannot call out). Values already set by the caller win, except the metadata switch, which
 * is always off. What starts an emulator also calls useLocalCredentials with a key of its own.
 */
export function applyLoopbackEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  if (!env.AWS_ACCESS_KEY_ID || !env.AWS_SECRET_ACCESS_KEY) useLocalCredentials(newLocalCredentials(), env);
  env.AWS_REGION ??= 'us-east-1';
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.AWS_ENDPOINT_URL_STS ??= 'http://127.0.0.1:9';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
