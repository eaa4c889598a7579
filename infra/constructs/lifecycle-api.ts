/**
 * The HTTPS API: an HTTP API with one Lambda per route of `functions/api/routes.ts`, a token authorizer in
 * front of every route but the health check, per-route table grants, access logs and stage throttling.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  HttpNoneAuthorizer,
  HttpRoute,
  HttpRouteKey,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { FALLBACK_ROUTE, ROUTES, type RouteDefinition } from '../../functions/api/routes';
import type { StripePriceIds } from '../../functions/plans/plan-catalog';
import { HandlerFunction } from './handler-function';
import type { LifecycleTable } from './lifecycle-table';

/** The token authorizer's handler module, relative to the repository root. */
export const AUTHORIZER_ENTRY = 'functions/auth/authorizer.ts';

/** One JSON object per request; `$context.authorizer.error` says why the authorizer refused or failed. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  status: '$context.status',
  responseLength: '$context.responseLength',
  latency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  error: '$context.error.message',
};

export interface StageThrottle {
  /** Steady-state requests per second, across the stage. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the rate. */
  readonly burstLimit: number;
}

export interface LifecycleApiProps {
  /** The table the route handlers read and write. */
  readonly table: LifecycleTable;
  /**
   * Retention of every function's log group and of the access logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log groups and the token signing key when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Default route throttling of the stage.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: StageThrottle;
  /**
   * Stripe price ids per plan, given to the route handlers as STRIPE_PRICE_<PLAN>.
   * @default - none; plans carry no Stripe price
   */
  readonly stripePriceIds?: StripePriceIds;
  /**
   * Powertools service name of every function.
   * @default 'tenant-lifecycle'
   */
  readonly serviceName?: string;
}

export class LifecycleApi extends Construct {
  readonly httpApi: HttpApi;
  readonly stage: HttpStage;
  /** The API's invoke URL (the `$default` stage). */
  readonly url: string;
  /** The HMAC key that signs and verifies API tokens. */
  readonly tokenSecret: Secret;
  /**
   * The Stripe webhook endpoint's signing secret (`whsec_...`), read by the routes verified by a Stripe signature.
   * Created with a random placeholder: put the endpoint's secret from Stripe in it (until then every delivery is
   * refused with 400 and Stripe retries it for up to 3 days).
   */
  readonly stripeWebhookSecret: Secret;
  readonly authorizerFunction: HandlerFunction;
  /** One function per route id, the fallback (`$default`) route included. */
  readonly routeFunctions: Readonly<Record<string, HandlerFunction>>;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: LifecycleApiProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const serviceName = props.serviceName ?? 'tenant-lifecycle';
    const throttle = props.throttle ?? { rateLimit: 50, burstLimit: 100 };

    this.tokenSecret = new Secret(this, 'TokenSigningKey', {
      description: 'HMAC key that signs and verifies tenant lifecycle API tokens.',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(this.tokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is an HMAC key for API tokens, not a credential of another service. Automatic rotation would ' +
        'invalidate every issued token at once, because the authorizer verifies with AWSCURRENT only; the key is ' +
        'rotated by hand together with re-issuing tokens.',
    });

    this.authorizerFunction = new HandlerFunction(this, 'AuthorizerFunction', {
      entry: AUTHORIZER_ENTRY,
      description: 'Tenant lifecycle API: bearer token authorizer',
      serviceName,
      logRetention,
      removalPolicy,
      environment: { TOKEN_SECRET_ARN: this.tokenSecret.secretArn },
    });
    this.tokenSecret.grantRead(this.authorizerFunction);

    const authorizer = new HttpLambdaAuthorizer('TokenAuthorizer', this.authorizerFunction.function, {
      authorizerName: 'token-authorizer',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      identitySource: ['$request.header.Authorization'],
      // Short, so an expired token stops working within a minute; verification itself is one HMAC.
      resultsCacheTtl: Duration.minutes(1),
    });

    this.httpApi = new HttpApi(this, 'HttpApi', {
      description: 'Tenant lifecycle control plane',
      // The stage is declared below, with access logs and throttling the default stage cannot take.
      createDefaultStage: false,
    });

    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: logRetention, removalPolicy });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle: { rateLimit: throttle.rateLimit, burstLimit: throttle.burstLimit },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    this.url = this.stage.url;

    this.stripeWebhookSecret = new Secret(this, 'StripeWebhookSigningSecret', {
      description: "Stripe webhook endpoint signing secret (whsec_...) for POST /webhooks/stripe: replace this placeholder with the endpoint's secret from Stripe.",
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      removalPolicy,
    });
    Validations.of(this.stripeWebhookSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The secret is issued by Stripe for the webhook endpoint and rolled there (the old one can stay valid for a while, so the new one is put here first); ' +
        'Secrets Manager cannot rotate it.',
    });

    const routeEnvironment = stripePriceEnvironment(props.stripePriceIds);
    const routeFunctions: Record<string, HandlerFunction> = {};
    for (const route of [...ROUTES, FALLBACK_ROUTE]) {
      const handler = new HandlerFunction(this, `${route.id}Function`, {
        entry: route.entry,
        description: `Tenant lifecycle API: ${route.id} (${route.method} ${route.path})`,
        serviceName,
        logRetention,
        removalPolicy,
        environment: {
          ...routeEnvironment,
          ...(route.tableAccess === 'none' ? {} : { TABLE_NAME: props.table.table.tableName }),
        },
      });
      if (route.verifiedBy === 'stripe-signature') {
        handler.function.addEnvironment('STRIPE_WEBHOOK_SECRET_ARN', this.stripeWebhookSecret.secretArn);
        this.stripeWebhookSecret.grantRead(handler);
      }
      if (route.tableAccess === 'read') props.table.grantReadTenants(handler);
      if (route.tableAccess === 'write') props.table.grantWriteTenants(handler);
      routeFunctions[route.id] = handler;

      const integration = new HttpLambdaIntegration(`${route.id}Integration`, handler.function);
      const httpRoute = new HttpRoute(this, `${route.id}Route`, {
        httpApi: this.httpApi,
        routeKey: route === FALLBACK_ROUTE ? HttpRouteKey.DEFAULT : HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration,
        authorizer: route.authenticated ? authorizer : new HttpNoneAuthorizer(),
      });
      if (!route.authenticated) acknowledgePublicRoute(httpRoute, route);
    }
    this.routeFunctions = routeFunctions;
  }

  /** The function of route `routeId`; throws when routes.ts has no such route, so a rename fails synthesis. */
  routeFunction(routeId: string): HandlerFunction {
    const handler = this.routeFunctions[routeId];
    if (!handler) throw new Error(`No API route '${routeId}' in functions/api/routes.ts.`);
    return handler;
  }
}

/**
 * A route the route table declares unauthenticated: say so to cdk-nag. The health check reaches nothing; a route
 * verified by its handler (`verifiedBy`, the Stripe webhook) may reach the table, because nothing is read or
 * changed before the signature is verified. Any other public route with table access fails synthesis.
 */
function acknowledgePublicRoute(httpRoute: HttpRoute, route: RouteDefinition): void {
  if (route.verifiedBy === 'stripe-signature') {
    Validations.of(httpRoute).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: `${route.method} ${route.path} is called by Stripe, which cannot send a bearer token: its handler verifies the Stripe-Signature header (HMAC-SHA256 with the endpoint's signing secret, 300 s tolerance) on the exact body before reading or changing anything (routes.ts: verifiedBy stripe-signature).`,
    });
    return;
  }
  if (route.tableAccess !== 'none') {
    throw new Error(`Route ${route.id} is unauthenticated but has table access '${route.tableAccess}': a public route must not reach tenant data.`);
  }
  Validations.of(httpRoute).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason: `${route.method} ${route.path} is public by design (routes.ts: authenticated false, tableAccess none): ${route.summary} It reaches no tenant data.`,
  });
}

/** STRIPE_PRICE_<PLAN> for each plan given a price id. */
export function stripePriceEnvironment(priceIds: StripePriceIds = {}): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [plan, priceId] of Object.entries(priceIds)) {
    if (priceId) environment[`STRIPE_PRICE_${plan.toUpperCase()}`] = priceId;
  }
  return environment;
}
