/**
 * One bundled Lambda handler with its own log group and its own role. The role's only logging permission is
 * to write to that log group, so no function carries the AWSLambdaBasicExecutionRole managed policy
 * (which allows writing to every log group in the account).
 */
import * as path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal, type IGrantable, type IPrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The repository root, from this file's location (never the working directory). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/**
 * The newest Node.js runtime this aws-cdk-lib knows; cdk-nag's AwsSolutions-L1 accepts only the newest of
 * `Runtime.ALL` for the family. Node.js 24 on Lambda no longer supports callback-style handlers; ours are async.
 */
export const HANDLER_RUNTIME = Runtime.NODEJS_24_X;

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
}

export class HandlerFunction extends Construct implements IGrantable {
  readonly function: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;
  readonly grantPrincipal: IPrincipal;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
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
        POWERTOOLS_METRICS_NAMESPACE: 'TenantLifecycle',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        minify: true,
        sourceMap: true,
        // Bundle the AWS SDK too: the function then runs the SDK (and @smithy) versions the tests ran
        // against, not whatever the runtime ships; the cost is a few hundred KB of bundle.
        externalModules: [],
      },
    });
  }
}
