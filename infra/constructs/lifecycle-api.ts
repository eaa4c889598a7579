/**
 * The HTTPS API: an HTTP API with one Lambda per route of `functions/api/routes.ts`, API Gateway's JWT authorizer
 * in front of every route but the public ones (each asking for the scopes its access rule gives), per-route table
 * grants, access logs and stage throttling.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
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
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { FALLBACK_ROUTE, ROUTES, reachesTable, routeScopes, routeTableGrants, takesRateLimitToken, type RouteDefinition } from '../../functions/api/routes';
import type { ClaimMapping } from '../../functions/auth/jwt-claims';
import type { StripePriceIds } from '../../functions/plans/plan-catalog';
import { HandlerFunction } from './handler-function';
import { mappingEnvironment } from './identity-provider';
import type { LifecycleTable } from './lifecycle-table';
import { DEFAULT_RATE_LIMITS, rateLimitEnvironment, type RateLimits } from '../../functions/shared/http/rate-limit-policy';

/**
 * One JSON object per request; `$context.authorizer.error` says why the authorizer refused or failed, and the
 * verified token's `sub` (the audit trail's actor) and `client_id` (Cognito's app client) say who called.
 */
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
  subject: '$context.authorizer.claims.sub',
  clientId: '$context.authorizer.claims.client_id',
  error: '$context.error.message',
};

export interface StageThrottle {
  /** Steady-state requests per second, across the stage. */
  readonly rateLimit: number;
  /** Requests allowed in a burst above the rate. */
  readonly burstLimit: number;
}

/** Whose JWTs the API accepts, and how their claims map to a principal. */
export interface JwtTrust {
  /** The issuer (`iss`), https; API Gateway fetches its keys from `<issuer>/.well-known/openid-configuration`. */
  readonly issuer: string;
  /** Accepted `aud` values (or, for a token without `aud`, `client_id`: Cognito access tokens). */
  readonly audience: readonly string[];
  /** Scope and claim names: the routes' authorization scopes and every API function's JWT_* variables. */
  readonly mapping: ClaimMapping;
}

export interface LifecycleApiProps {
  /** The table the route handlers read and write. */
  readonly table: LifecycleTable;
  /** The identity provider whose access tokens API Gateway's JWT authorizer verifies. */
  readonly jwt: JwtTrust;
  /**
   * Retention of every function's log group and of the access logs.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * What happens to the log groups and the Stripe webhook secret when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Default route throttling of the stage.
   * @default { rateLimit: 50, burstLimit: 100 }
   */
  readonly throttle?: StageThrottle;
  /**
   * The per-caller rate limits every authenticated route enforces (functions/shared/http/rate-limit.ts), given to
   * their functions as RATE_LIMIT_*: each tenant (all its tokens together) and each operator has a bucket. Keep them
   * under `throttle`, which stays the ceiling shared by every caller.
   * @default DEFAULT_RATE_LIMITS: tenant 10 requests/s, bursts of 20; operator 25/s, bursts of 50
   */
  readonly rateLimits?: RateLimits;
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
  /**
   * The Stripe webhook endpoint's signing secret (`whsec_...`), read by the routes verified by a Stripe signature.
   * Created with a random placeholder: put the endpoint's secret from Stripe in it (until then every delivery is
   * refused with 400 and Stripe retries it for up to 3 days).
   */
  readonly stripeWebhookSecret: Secret;
  /** API Gateway's JWT authorizer, on every route but the public ones. */
  readonly authorizer: HttpJwtAuthorizer;
  /** One function per route id, the fallback (`$default`) route included. */
  readonly routeFunctions: Readonly<Record<string, HandlerFunction>>;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: LifecycleApiProps) {
    super(scope, id);
    const logRetention = props.logRetention ?? RetentionDays.ONE_MONTH;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const serviceName = props.serviceName ?? 'tenant-lifecycle';
    const throttle = props.throttle ?? { rateLimit: 50, burstLimit: 100 };
    const rateLimits = checkedRateLimits(props.rateLimits ?? DEFAULT_RATE_LIMITS);

    // No Lambda and no cache: API Gateway verifies the signature (the issuer's JWKS), iss, aud/client_id, exp, nbf
    // and the route's scopes itself (API Gateway developer guide, "Control access to HTTP APIs with JWT authorizers").
    this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwt.issuer, {
      authorizerName: 'jwt-authorizer',
      jwtAudience: [...props.jwt.audience],
      identitySource: ['$request.header.Authorization'],
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

    // Every API function maps claims to a principal exactly as the authorizer's scopes were named.
    const routeEnvironment = { ...stripePriceEnvironment(props.stripePriceIds), ...mappingEnvironment(props.jwt.mapping) };
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
          ...(reachesTable(route) ? { TABLE_NAME: props.table.table.tableName } : {}),
          // The routes apiRoute serves take a token from their caller's bucket; public routes and the fallback's 404 do not.
          ...(takesRateLimitToken(route) ? rateLimitEnvironment(rateLimits) : {}),
        },
      });
      if (route.verifiedBy === 'stripe-signature') {
        handler.function.addEnvironment('STRIPE_WEBHOOK_SECRET_ARN', this.stripeWebhookSecret.secretArn);
        this.stripeWebhookSecret.grantRead(handler);
      }
      // Exactly the route table's statements: each action on the table or the named index, for its partitions only.
      props.table.grantStatements(handler, routeTableGrants(route));
      routeFunctions[route.id] = handler;

      const integration = new HttpLambdaIntegration(`${route.id}Integration`, handler.function);
      const httpRoute = new HttpRoute(this, `${route.id}Route`, {
        httpApi: this.httpApi,
        routeKey: route === FALLBACK_ROUTE ? HttpRouteKey.DEFAULT : HttpRouteKey.with(route.path, HttpMethod[route.method]),
        integration,
        ...(route.authenticated ? { authorizer: this.authorizer, authorizationScopes: routeScopes(route, props.jwt.mapping) } : { authorizer: new HttpNoneAuthorizer() }),
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
 * A route the route table declares public: say so to cdk-nag. The health check reaches nothing; a route
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
  if (reachesTable(route)) {
    throw new Error(`Route ${route.id} is unauthenticated but has a table grant: a public route must not reach tenant data.`);
  }
  Validations.of(httpRoute).acknowledge({
    id: 'AwsSolutions-APIG4',
    reason: `${route.method} ${route.path} is public by design (routes.ts: access public, no table grant): ${route.summary} It reaches no tenant data.`,
  });
}

/** `limits` when every rate is a positive number and every burst a positive whole number; else throws, naming it. */
export function checkedRateLimits(limits: RateLimits): RateLimits {
  for (const role of ['tenant', 'operator'] as const) {
    const { perSecond, burst } = limits[role];
    if (!(Number.isFinite(perSecond) && perSecond > 0) || !(Number.isInteger(burst) && burst > 0)) {
      throw new Error(`rateLimits.${role} must have a positive perSecond and a positive whole burst, got ${JSON.stringify(limits[role])}.`);
    }
  }
  return limits;
}

/** STRIPE_PRICE_<PLAN> for each plan given a price id. */
export function stripePriceEnvironment(priceIds: StripePriceIds = {}): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const [plan, priceId] of Object.entries(priceIds)) {
    if (priceId) environment[`STRIPE_PRICE_${plan.toUpperCase()}`] = priceId;
  }
  return environment;
}
