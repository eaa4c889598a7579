/**
 * The stack's own identity provider (the default, without `-c jwtIssuer`): an Amazon Cognito user pool whose
 * access tokens API Gateway's JWT authorizer verifies.
 *
 * - Resource server `tenant-lifecycle` with the scopes `operator` (everything) and `tenant` (its own tenant).
 * - Operators: users created by an administrator (no self sign-up), MFA by authenticator app required, a strong
 *   password policy; they sign in through the operator app client (authorization code grant, a public client: use
 *   PKCE) and get `tenant-lifecycle/operator` (+ `openid`). A user with a `custom:tenant_id` attribute is that
 *   tenant's user instead (the trigger swaps the scope).
 * - The application plane: a confidential app client (client secret) with the client credentials grant and the
 *   `tenant-lifecycle/tenant` scope only; each token request names its tenant (`aws_client_metadata`).
 * - The pre token generation trigger (V3_0: access tokens of client-credentials grants too; it needs the
 *   Essentials feature plan) puts the tenant claim in the access token (functions/auth/pre-token-generation.ts).
 * - A Cognito prefix domain serves the OAuth 2.0 endpoints (`/oauth2/authorize`, `/oauth2/token`).
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import {
  AccountRecovery,
  CfnUserPoolClient,
  ClientAttributes,
  FeaturePlan,
  LambdaVersion,
  Mfa,
  OAuthScope,
  ResourceServerScope,
  StringAttribute,
  UserPool,
  UserPoolClient,
  UserPoolClientIdentityProvider,
  UserPoolDomain,
  UserPoolOperation,
  UserPoolResourceServer,
} from 'aws-cdk-lib/aws-cognito';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { RESOURCE_SERVER_IDENTIFIER, type ClaimMapping } from '../../functions/auth/jwt-claims';
import { HandlerFunction } from './handler-function';

/** The trigger's handler module, relative to the repository root. */
export const PRE_TOKEN_GENERATION_ENTRY = 'functions/auth/pre-token-generation.ts';

/** Where the operator app client may send the authorization code when no `operatorCallbackUrls` are given: a CLI or tool on the operator's machine. */
export const DEFAULT_OPERATOR_CALLBACK_URLS: readonly string[] = ['http://localhost:8000/callback'];

/** How long an access (and ID) token is valid: an hour, so a revoked client or user stops working within it. */
const ACCESS_TOKEN_VALIDITY = Duration.hours(1);

export interface IdentityProviderProps {
  /**
   * The Cognito prefix domain of the OAuth 2.0 endpoints (`https://<prefix>.auth.<region>.amazoncognito.com`);
   * unique in the region, lowercase letters, digits and hyphens.
   * @default `<stack name, lowercase>-<account id>`
   */
  readonly domainPrefix?: string;
  /**
   * Where the operator app client may redirect after sign-in (https, or http://localhost).
   * @default DEFAULT_OPERATOR_CALLBACK_URLS
   */
  readonly operatorCallbackUrls?: readonly string[];
  /** The scope names and tenant claim: the resource server's scopes must be exactly these. */
  readonly mapping: ClaimMapping;
  /**
   * Deletion of the user pool with the stack (DESTROY) or not (RETAIN, with deletion protection on: the pool holds
   * the operators and the application plane's credentials).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  readonly logRetention?: RetentionDays;
  /** Powertools service name of the trigger. */
  readonly serviceName: string;
}

export class IdentityProvider extends Construct {
  readonly userPool: UserPool;
  readonly resourceServer: UserPoolResourceServer;
  /** Operators' sign-in (authorization code grant, no secret): scopes openid and operator. */
  readonly operatorClient: UserPoolClient;
  /** The application plane's client credentials (with a secret): scope tenant. */
  readonly applicationClient: UserPoolClient;
  readonly domain: UserPoolDomain;
  /** The pre token generation trigger (V3_0). */
  readonly tokenTrigger: HandlerFunction;
  /** The issuer of the pool's tokens, `https://cognito-idp.<region>.amazonaws.com/<pool id>`. */
  readonly issuer: string;
  /** The OAuth 2.0 token endpoint (`https://<domain>/oauth2/token`). */
  readonly tokenEndpoint: string;

  constructor(scope: Construct, id: string, props: IdentityProviderProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { operatorScope, tenantScope } = scopeNames(props.mapping);

    this.userPool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      passwordPolicy: { minLength: 14, requireLowercase: true, requireUppercase: true, requireDigits: true, requireSymbols: true, tempPasswordValidity: Duration.days(3) },
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { otp: true, sms: false },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      // Essentials: the V3_0 pre token generation event (access-token customization, client credentials too).
      featurePlan: FeaturePlan.ESSENTIALS,
      customAttributes: { tenant_id: new StringAttribute({ minLen: 3, maxLen: 63, mutable: true }) },
      deletionProtection: removalPolicy === RemovalPolicy.RETAIN,
      removalPolicy,
    });
    Validations.of(this.userPool).acknowledge({
      id: 'AwsSolutions-COG8',
      reason:
        'Essentials, not Plus: Essentials has what this pool needs (the V3_0 pre token generation event, access-token customization for client credentials) at a lower price per user. ' +
        "Plus adds threat protection (compromised-credential and adaptive-authentication checks on sign-in); here every user is an operator created by an administrator (no self sign-up), with MFA by authenticator app required and a 14-character password policy, " +
        'and the application plane signs in with a client secret, which threat protection does not assess. Switch to Plus (featurePlan) where compromised-credential detection is required.',
    });

    this.resourceServer = this.userPool.addResourceServer('ResourceServer', {
      identifier: RESOURCE_SERVER_IDENTIFIER,
      userPoolResourceServerName: 'Tenant lifecycle control plane API',
      scopes: [
        new ResourceServerScope({ scopeName: operatorScope, scopeDescription: 'Operator: every route of the tenant lifecycle API.' }),
        new ResourceServerScope({ scopeName: tenantScope, scopeDescription: "Application plane: one tenant's reads, usage reports, query leases and exports (the tenant_id claim names it)." }),
      ],
    });
    // The scopes by their full names (as tokens carry them); each client depends on the resource server defining them.
    const scopeOf = (name: string): OAuthScope => OAuthScope.custom(`${RESOURCE_SERVER_IDENTIFIER}/${name}`);

    const tokenValidity = { accessTokenValidity: ACCESS_TOKEN_VALIDITY, idTokenValidity: ACCESS_TOKEN_VALIDITY, enableTokenRevocation: true, preventUserExistenceErrors: true };
    this.operatorClient = this.userPool.addClient('OperatorClient', {
      userPoolClientName: 'operators',
      generateSecret: false,
      authFlows: { userSrp: true },
      oAuth: {
        flows: { authorizationCodeGrant: true },
        scopes: [OAuthScope.OPENID, scopeOf(operatorScope)],
        callbackUrls: [...(props.operatorCallbackUrls ?? DEFAULT_OPERATOR_CALLBACK_URLS)],
      },
      supportedIdentityProviders: [UserPoolClientIdentityProvider.COGNITO],
      refreshTokenValidity: Duration.hours(12),
      // Users may change their email and name, never the attribute that names their tenant.
      readAttributes: new ClientAttributes().withStandardAttributes({ email: true, emailVerified: true, fullname: true }).withCustomAttributes('tenant_id'),
      writeAttributes: new ClientAttributes().withStandardAttributes({ email: true, fullname: true }),
      ...tokenValidity,
    });

    this.applicationClient = this.userPool.addClient('ApplicationClient', {
      userPoolClientName: 'application-plane',
      generateSecret: true,
      oAuth: { flows: { clientCredentials: true }, scopes: [scopeOf(tenantScope)] },
      ...tokenValidity,
    });
    for (const client of [this.operatorClient, this.applicationClient]) client.node.addDependency(this.resourceServer);
    // No user sign-in through the application plane's client: without ExplicitAuthFlows Cognito would allow SRP and
    // custom authentication on it (CDK omits an empty list), so name the one flow every client keeps.
    (this.applicationClient.node.defaultChild as CfnUserPoolClient).explicitAuthFlows = ['ALLOW_REFRESH_TOKEN_AUTH'];

    this.domain = this.userPool.addDomain('Domain', {
      cognitoDomain: { domainPrefix: props.domainPrefix ?? `${Stack.of(this).stackName.toLowerCase()}-${Stack.of(this).account}` },
    });

    this.tokenTrigger = new HandlerFunction(this, 'PreTokenGenerationFunction', {
      entry: PRE_TOKEN_GENERATION_ENTRY,
      description: 'Tenant lifecycle user pool: pre token generation (names the tenant of a tenant-scoped access token)',
      serviceName: props.serviceName,
      logRetention: props.logRetention,
      removalPolicy,
      environment: mappingEnvironment(props.mapping),
    });
    this.userPool.addTrigger(UserPoolOperation.PRE_TOKEN_GENERATION_CONFIG, this.tokenTrigger.function, LambdaVersion.V3_0);

    // As Cognito writes `iss` (and as CDK's HttpUserPoolAuthorizer builds it): https://cognito-idp.<region>.amazonaws.com/<pool id>.
    this.issuer = `https://cognito-idp.${Stack.of(this).region}.amazonaws.com/${this.userPool.userPoolId}`;
    this.tokenEndpoint = `${this.domain.baseUrl()}/oauth2/token`;
  }

  /** The audience API Gateway checks (`client_id` of a Cognito access token): both app clients' ids. */
  get audience(): string[] {
    return [this.operatorClient.userPoolClientId, this.applicationClient.userPoolClientId];
  }
}

/** The scope names of `mapping` on the resource server (`tenant-lifecycle/<name>`); throws if they are not on it. */
function scopeNames(mapping: ClaimMapping): { operatorScope: string; tenantScope: string } {
  const prefix = `${RESOURCE_SERVER_IDENTIFIER}/`;
  if (!mapping.operatorScope.startsWith(prefix) || !mapping.tenantScope.startsWith(prefix)) {
    throw new Error(`The stack's user pool issues ${prefix}<scope> scopes; got ${mapping.operatorScope} and ${mapping.tenantScope}.`);
  }
  return { operatorScope: mapping.operatorScope.slice(prefix.length), tenantScope: mapping.tenantScope.slice(prefix.length) };
}

/** JWT_OPERATOR_SCOPE, JWT_TENANT_SCOPE and JWT_TENANT_CLAIM for a function that reads `claimMapping()`. */
export function mappingEnvironment(mapping: ClaimMapping): Record<string, string> {
  return { JWT_OPERATOR_SCOPE: mapping.operatorScope, JWT_TENANT_SCOPE: mapping.tenantScope, JWT_TENANT_CLAIM: mapping.tenantClaim };
}
