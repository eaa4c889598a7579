/**
 * One bundled Lambda handler with its own log group and its own role. The role's only logging permission is
 * to write to that log group, so no function carries the AWSLambdaBasicExecutionRole managed policy
 * (which allows writing to every log group in the account).
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal, type IGrantable, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root, from this file's location (never the working directory). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The newest Node.js runtime this aws-cdk-lib knows; cdk-nag's AwsSolutions-L1 accepts only the newest of
 * `Runtime.ALL` for the family. Node.js 24 on Lambda no longer supports callback-style handlers; ours are async.
 */
export const HANDLER_RUNTIME = Runtime.NODEJS_24_X;

/**
 * How every handler is bundled (bench/bundles.ts measures the result: `npm run bench:bundles`).
 * - The AWS SDK v3's clients (RUNTIME_PROVIDED_SDK, and the `@smithy/*` packages only they use) are left to the Lambda Node.js
 *   runtime, which ships it (Lambda developer guide, "Runtime-included SDK versions"), as NodejsFunction does
 *   by default from Node.js 18. Bundled, it was about 450 KB of every bundle and most of its cold init. The
 *   cost: the functions run the runtime's SDK version, not the lockfile's that the tests run (the AWS SDK
 *   team recommends bundling for exact version control); the code calls only long-standing operations of
 *   DynamoDB, Secrets Manager, Step Functions and EventBridge Scheduler.
 * - Packages' ES module builds first (`module` before `main`), so esbuild can drop what is not imported.
 * - The Stripe and Pinecone SDKs and the S3 transfer libraries in files of their own, loaded on first use (LAZY_CHUNKS).
 * - A source map for readable stack traces (NODE_OPTIONS=--enable-source-maps), without the sources
 *   themselves: Node reads the map at load time, so a smaller map is a shorter cold init.
 */
/**
 * SDKs that a function loads on first use, with a plain `require` of a module of ours that re-exports them
 * (functions/billing/stripe-sdk.ts, functions/workflows/pinecone-sdk.ts). The bundle keeps that `require` as it
 * is (an external), and a second esbuild run builds the module, minified, as a file of its own beside index.js
 * (`<request>.js`), in the package of each function whose index.js requires it. So a cold start neither parses
 * these SDKs nor reads their source maps (about 30 ms for Stripe, 40 ms for Pinecone here, even unused); the
 * first call that needs one pays it once. The package as a whole is as large as before: these files are in it.
 * esbuild's own code splitting would do the same but only for ES module output, with an output directory,
 * which NodejsFunction does not offer (it writes one --outfile).
 */
export const LAZY_CHUNKS: ReadonlyArray<{ readonly request: string; readonly entry: string }> = [
  { request: './stripe-sdk', entry: 'functions/billing/stripe-sdk.ts' },
  { request: './pinecone-sdk', entry: 'functions/workflows/pinecone-sdk.ts' },
  { request: './s3-transfer-sdk', entry: 'functions/export/s3-transfer-sdk.ts' },
];

/** The shell commands that build each lazy chunk that `outputDir/index.js` requires, with the options of the bundle. */
function lazyChunkCommands(inputDir: string, outputDir: string): string[] {
  const target = `node${/nodejs(\d+)/.exec(HANDLER_RUNTIME.name)?.[1] ?? ''}`;
  return LAZY_CHUNKS.map((chunk) => {
    const esbuild = [
      `"${inputDir}/node_modules/.bin/esbuild"`,
      '--bundle',
      `"${inputDir}/${chunk.entry}"`,
      `--outfile="${outputDir}/${chunk.request.slice(2)}.js"`,
      `--target=${target}`,
      '--platform=node',
      '--format=cjs',
      '--minify',
      '--sourcemap',
      '--sources-content=false',
      '--main-fields=module,main',
      '--log-level=warning',
    ].join(' ');
    return `if grep -qF 'require("${chunk.request}")' "${outputDir}/index.js"; then ${esbuild}; fi`;
  });
}

/**
 * The AWS SDK v3 packages left to the Lambda runtime: its clients and the DynamoDB document client. Not
 * `@aws-sdk/*` as a whole: `@aws-sdk/lib-storage` (multipart upload from a stream) and
 * `@aws-sdk/s3-request-presigner` are not part of the runtime's SDK, so they (and the packages they use) are
 * bundled (test/infra/bundling.test.ts fails on a require of any other `@aws-sdk/` package).
 */
export const RUNTIME_PROVIDED_SDK: readonly string[] = ['@aws-sdk/client-*', '@aws-sdk/lib-dynamodb', '@aws-sdk/util-dynamodb'];

export const HANDLER_BUNDLING: BundlingOptions = {
  minify: true,
  sourceMap: true,
  sourcesContent: false,
  mainFields: ['module', 'main'],
  externalModules: [...RUNTIME_PROVIDED_SDK, ...LAZY_CHUNKS.map((chunk) => chunk.request)],
  commandHooks: {
    beforeBundling: () => [],
    beforeInstall: () => [],
    afterBundling: lazyChunkCommands,
  },
};

/** The CloudWatch namespace of every function's metrics (POWERTOOLS_METRICS_NAMESPACE); alarms read them there. */
export const METRICS_NAMESPACE = 'TenantLifecycle';

export interface HandlerFunctionProps {
  /** Handler module relative to the repository root; it exports `handler`. */
  readonly entry: string;
  /** What the function does, for the console. */
  readonly description: string;
  /** Variables besides the Powertools and Node.js ones every function gets. */
  readonly environment?: Readonly<Record<string, string>>;
  /** Powertools service name (POWERTOOLS_SERVICE_NAME). */
  readonly serviceName: string;
  /**
   * How long the function's log events are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * How long one invocation may run. A workflow Task function needs at least its ASL TimeoutSeconds, so
   * the state machine's States.Timeout (which the ASL retries) fires before Lambda's own timeout.
   * @default Duration.seconds(10)
   */
  readonly timeout?: Duration;
  /**
   * A fixed physical name, for a function whose ARN must be known without a reference to it (to break a
   * cycle); keep it unique per stack.
   * @default - generated by CloudFormation
   */
  readonly functionName?: string;
}

export class HandlerFunction extends Construct implements IGrantable {
  /** The handler module, relative to the repository root (props.entry). */
  readonly entry: string;
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    // CloudFormation refuses a Lambda timeout above 900 s (Lambda quotas, "Function timeout"): fail at synth instead.
    if (props.timeout && props.timeout.toSeconds() > 900) throw new Error(`${this.node.path}: a Lambda function's timeout is at most 900 s, got ${props.timeout.toSeconds()} s.`);
    this.entry = props.entry;
    this.logGroup = new LogGroup(this, 'Logs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role: ${props.description}`,
    });
    this.logGroup.grantWrite(this.role);
    this.grantPrincipal = this.role;

    this.function = new NodejsFunction(this, 'Function', {
      entry: path.join(REPO_ROOT, props.entry),
      handler: 'handler',
      description: props.description,
      ...(props.functionName ? { functionName: props.functionName } : {}),
      runtime: HANDLER_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role: this.role,
      logGroup: this.logGroup,
      projectRoot: REPO_ROOT,
      depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: HANDLER_BUNDLING,
    });
  }
}
