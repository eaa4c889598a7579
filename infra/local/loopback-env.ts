/**
 * Keep every AWS client on this machine: dummy credentials (so the SDK never probes the instance-metadata
 * address), a fixed region, and STS pointed at a closed loopback port (so the CDK CLI cannot call out).
 * Values already set by the caller win, except the metadata switch, which is always off.
 */
export function applyLoopbackEnvironment(env: NodeJS.ProcessEnv = process.env): void {
  env.AWS_ACCESS_KEY_ID ??= 'local';
  env.AWS_SECRET_ACCESS_KEY ??= 'local';
  env.AWS_REGION ??= 'us-east-1';
  env.AWS_EC2_METADATA_DISABLED = 'true';
  env.AWS_ENDPOINT_URL_STS ??= 'http://127.0.0.1:9';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
