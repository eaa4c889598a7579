/**
 * Who may call the API on AWS: API Gateway's native JWT authorizer on every route but GET /health and the Stripe
 * webhook, each route asking for the scopes its route table entry's access rule gives (no Lambda authorizer, no
 * token secret). By default the stack's own Amazon Cognito user pool issues the tokens (resource server
 * `tenant-lifecycle` with scopes `operator` and `tenant`, an operator app client, the application plane's
 * client-credentials app client, the pre token generation trigger that names a token's tenant); with
 * `-c jwtIssuer=… -c jwtAudience=…` none of that exists and the authorizer trusts the given issuer.
 */
import { Match, Template } from 'aws-cdk-lib/assertions';
import { FALLBACK_ROUTE, ROUTES, type RouteDefinition } from '../../functions/api/routes';
import { buildApp } from '../../infra/app';
import { HandlerFunction } from '../../infra/constructs/handler-function';
import type { TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import { actionsOf, cdkOutdir, logicalId, removeCdkOutdirs, resourcesOf, statementsOfRole, synthContext, variablesOf, type Resource } from '../support/cdk-template';

const ALL_ROUTES: readonly RouteDefinition[] = [...ROUTES, FALLBACK_ROUTE];
const OPERATOR = 'tenant-lifecycle/operator';
const TENANT = 'tenant-lifecycle/tenant';

function synthesize(context: Record<string, unknown> = {}, variables: Record<string, string> = {}): { stack: TenantLifecycleStack; template: Template } {
  const { stack } = buildApp({ outdir: cdkOutdir('api-identity'), nag: false, context: synthContext(context), variables });
  return { stack, template: Template.fromStack(stack) };
}

const routeKeyOf = (route: RouteDefinition): string => (route === FALLBACK_ROUTE ? '$default' : `${route.method} ${route.path}`);

interface RouteProperties {
  readonly RouteKey: string;
  readonly AuthorizationType: string;
  readonly AuthorizerId?: unknown;
  readonly AuthorizationScopes?: string[];
}

function routeResource(template: Template, route: RouteDefinition): RouteProperties {
  const found = resourcesOf<RouteProperties>(template, 'AWS::ApiGatewayV2::Route').find(([, candidate]) => candidate.Properties.RouteKey === routeKeyOf(route));
  if (!found) throw new Error(`no route ${routeKeyOf(route)}`);
  return found[1].Properties;
}

/** The scopes each access rule accepts (any one), written out here rather than derived from the code under test. */
function expectedScopes(route: RouteDefinition, operator = OPERATOR, tenant = TENANT): string[] | undefined {
  if (route.access === 'public') return undefined;
  return route.access === 'operator' ? [operator] : [operator, tenant];
}

function handlerFunctions(stack: TenantLifecycleStack): HandlerFunction[] {
  return stack.node.findAll().filter((construct): construct is HandlerFunction => construct instanceof HandlerFunction);
}

afterAll(removeCdkOutdirs);

describe('API authorization with the stack\'s own Cognito user pool (default)', () => {
  const { stack, template } = synthesize();
  const identity = stack.identity!;
  const [[authorizerId, authorizer]] = resourcesOf<{ AuthorizerType: string; IdentitySource: string[]; JwtConfiguration: { Issuer: unknown; Audience: unknown[] } }>(template, 'AWS::ApiGatewayV2::Authorizer') as [[string, Resource & { Properties: { AuthorizerType: string; IdentitySource: string[]; JwtConfiguration: { Issuer: unknown; Audience: unknown[] } } }]];

  it('should have one authorizer, a JWT authorizer reading the Authorization header', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    expect(authorizer.Properties.AuthorizerType).toBe('JWT');
    expect(authorizer.Properties.IdentitySource).toEqual(['$request.header.Authorization']);
  });

  it("should trust the user pool's issuer and both app clients as audience (Cognito access tokens carry client_id, which API Gateway checks when there is no aud)", () => {
    expect(authorizer.Properties.JwtConfiguration.Issuer).toEqual({
      'Fn::Join': ['', ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.amazonaws.com/', { Ref: logicalId(stack, identity.userPool) }]],
    });
    expect(authorizer.Properties.JwtConfiguration.Audience).toEqual([{ Ref: logicalId(stack, identity.operatorClient) }, { Ref: logicalId(stack, identity.applicationClient) }]);
  });

  it.each(ALL_ROUTES.map((route) => [routeKeyOf(route), route] as const))('%s: the JWT authorizer with the scopes of its access rule, or none for a public route', (_key, route) => {
    const properties = routeResource(template, route);
    const scopes = expectedScopes(route);
    if (scopes === undefined) {
      expect([properties.AuthorizationType, properties.AuthorizerId, properties.AuthorizationScopes]).toEqual(['NONE', undefined, undefined]);
    } else {
      expect([properties.AuthorizationType, properties.AuthorizerId, properties.AuthorizationScopes]).toEqual(['JWT', { Ref: authorizerId }, scopes]);
    }
  });

  it('should leave exactly GET /health and POST /webhooks/stripe without an authorizer', () => {
    const open = resourcesOf<RouteProperties>(template, 'AWS::ApiGatewayV2::Route').filter(([, route]) => route.Properties.AuthorizationType === 'NONE').map(([, route]) => route.Properties.RouteKey);
    expect(open.sort()).toEqual(['GET /health', 'POST /webhooks/stripe']);
  });

  it('should have no Lambda authorizer and no token secret any more', () => {
    expect(handlerFunctions(stack).map((handler) => handler.entry)).not.toContain('functions/auth/authorizer.ts');
    const secrets = resourcesOf<{ Description?: string }>(template, 'AWS::SecretsManager::Secret');
    expect(secrets.map(([id]) => id)).toEqual([logicalId(stack, stack.api.stripeWebhookSecret)]);
    for (const handler of handlerFunctions(stack)) expect(Object.keys(variablesOf(template, logicalId(stack, handler.function)))).not.toContain('TOKEN_SECRET_ARN');
    expect(Object.keys(template.toJSON().Outputs as object)).not.toContain('TokenSecretArn');
    template.resourcePropertiesCountIs('AWS::ApiGatewayV2::Authorizer', { AuthorizerType: 'REQUEST' }, 0);
  });

  it('should create a user pool without self sign-up, with MFA, a strong password policy, the Essentials plan and deletion protection', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 1);
    const [, pool] = resourcesOf<Record<string, unknown>>(template, 'AWS::Cognito::UserPool')[0]!;
    expect(pool.Properties).toMatchObject({
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      Policies: { PasswordPolicy: { MinimumLength: 14, RequireLowercase: true, RequireUppercase: true, RequireNumbers: true, RequireSymbols: true } },
      UserPoolTier: 'ESSENTIALS',
      DeletionProtection: 'ACTIVE',
    });
    expect(pool.DeletionPolicy).toBe('Retain');
    expect(pool.Properties.Schema).toEqual(expect.arrayContaining([expect.objectContaining({ Name: 'tenant_id', AttributeDataType: 'String', Mutable: true })]));
  });

  it('should run the pre token generation trigger with event version V3_0 (client-credentials tokens too)', () => {
    const [, pool] = resourcesOf<{ LambdaConfig: unknown }>(template, 'AWS::Cognito::UserPool')[0]!;
    expect(pool.Properties.LambdaConfig).toEqual({
      PreTokenGenerationConfig: { LambdaArn: { 'Fn::GetAtt': [logicalId(stack, identity.tokenTrigger.function), 'Arn'] }, LambdaVersion: 'V3_0' },
    });
    expect(identity.tokenTrigger.entry).toBe('functions/auth/pre-token-generation.ts');
  });

  it('should give the trigger no table, no secret and nothing beyond its own log group', () => {
    const statements = statementsOfRole(template, logicalId(stack, identity.tokenTrigger.role));
    expect(actionsOf(statements).sort()).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
    expect(variablesOf(template, logicalId(stack, identity.tokenTrigger.function))).toMatchObject({ JWT_TENANT_CLAIM: 'tenant_id', JWT_OPERATOR_SCOPE: OPERATOR, JWT_TENANT_SCOPE: TENANT });
    expect(variablesOf(template, logicalId(stack, identity.tokenTrigger.function)).TABLE_NAME).toBeUndefined();
  });

  it('should define the resource server tenant-lifecycle with the scopes operator and tenant', () => {
    template.resourceCountIs('AWS::Cognito::UserPoolResourceServer', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolResourceServer', {
      Identifier: 'tenant-lifecycle',
      UserPoolId: { Ref: logicalId(stack, identity.userPool) },
      Scopes: [
        { ScopeName: 'operator', ScopeDescription: Match.anyValue() },
        { ScopeName: 'tenant', ScopeDescription: Match.anyValue() },
      ],
    });
  });

  it('should give operators a public app client: authorization code (with PKCE), scopes openid and operator, 1 h access tokens, the default callback', () => {
    const client = resourcesOf<Record<string, unknown>>(template, 'AWS::Cognito::UserPoolClient').find(([id]) => id === logicalId(stack, identity.operatorClient))![1];
    expect(client.Properties).toMatchObject({
      AllowedOAuthFlows: ['code'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: ['openid', OPERATOR],
      CallbackURLs: ['http://localhost:8000/callback'],
      SupportedIdentityProviders: ['COGNITO'],
      AccessTokenValidity: 60,
      IdTokenValidity: 60,
      TokenValidityUnits: { AccessToken: 'minutes', IdToken: 'minutes', RefreshToken: 'minutes' },
      PreventUserExistenceErrors: 'ENABLED',
      EnableTokenRevocation: true,
    });
    expect(client.Properties.GenerateSecret).toBeFalsy();
    // A user must not be able to rewrite the attribute that names their tenant.
    expect(client.Properties.WriteAttributes).toEqual(expect.not.arrayContaining(['custom:tenant_id']));
    expect(client.Properties.WriteAttributes).toEqual(expect.any(Array));
  });

  it('should give the application plane a client-credentials app client with a secret and the tenant scope only', () => {
    const client = resourcesOf<Record<string, unknown>>(template, 'AWS::Cognito::UserPoolClient').find(([id]) => id === logicalId(stack, identity.applicationClient))![1];
    expect(client.Properties).toMatchObject({
      AllowedOAuthFlows: ['client_credentials'],
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthScopes: [TENANT],
      GenerateSecret: true,
      AccessTokenValidity: 60,
      // No user sign-in through it (Cognito's default without the list: SRP and custom authentication too).
      ExplicitAuthFlows: ['ALLOW_REFRESH_TOKEN_AUTH'],
    });
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 2);
  });

  it('should serve the OAuth endpoints on a Cognito prefix domain derived from the stack and account', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolDomain', {
      Domain: { 'Fn::Join': ['', ['tenantlifecycle-', { Ref: 'AWS::AccountId' }]] },
      UserPoolId: { Ref: logicalId(stack, identity.userPool) },
    });
  });

  it('should output the issuer, the token endpoint and both client ids', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.JwtIssuer?.Value).toEqual(authorizer.Properties.JwtConfiguration.Issuer);
    expect(outputs.OperatorClientId?.Value).toEqual({ Ref: logicalId(stack, identity.operatorClient) });
    expect(outputs.ApplicationClientId?.Value).toEqual({ Ref: logicalId(stack, identity.applicationClient) });
    expect(JSON.stringify(outputs.TokenEndpoint?.Value)).toContain('/oauth2/token');
  });

  it('should tell every API function the claim mapping the authorizer checks', () => {
    for (const route of ALL_ROUTES) {
      expect([route.id, variablesOf(template, logicalId(stack, stack.api.routeFunction(route.id).function))]).toEqual([
        route.id,
        expect.objectContaining({ JWT_OPERATOR_SCOPE: OPERATOR, JWT_TENANT_SCOPE: TENANT, JWT_TENANT_CLAIM: 'tenant_id' }),
      ]);
    }
  });

  it('should take the domain prefix and callback URLs from context', () => {
    const { stack: custom, template: customTemplate } = synthesize({ cognitoDomainPrefix: 'acme-control-plane', operatorCallbackUrls: 'https://ops.acme.example/callback,http://localhost:9000/cb' });
    customTemplate.hasResourceProperties('AWS::Cognito::UserPoolDomain', { Domain: 'acme-control-plane' });
    const client = resourcesOf<{ CallbackURLs: string[] }>(customTemplate, 'AWS::Cognito::UserPoolClient').find(([id]) => id === logicalId(custom, custom.identity!.operatorClient))![1];
    expect(client.Properties.CallbackURLs).toEqual(['https://ops.acme.example/callback', 'http://localhost:9000/cb']);
  });

  it.each([
    [{ cognitoDomainPrefix: 'Acme_Ops' }, 'Context cognitoDomainPrefix must be'],
    [{ cognitoDomainPrefix: 'my-cognito-login' }, 'must not contain aws, amazon or cognito'],
    [{ operatorCallbackUrls: 'http://ops.acme.example/callback' }, 'Context operatorCallbackUrls: http://ops.acme.example/callback must be an https URL (or http://localhost'],
    [{ jwtOperatorScope: 'ops' }, 'Context jwtOperatorScope, jwtTenantScope and jwtTenantClaim apply to a trusted issuer (-c jwtIssuer=...)'],
    [{ jwtAudience: 'abc' }, 'Context jwtAudience needs jwtIssuer'],
  ])('should refuse %j at synth, saying what to fix', (context, message) => {
    expect(() => synthesize(context)).toThrow(message);
  });

  it('should refuse a China region (no Cognito user pools there) without a trusted issuer, saying how to give one', () => {
    expect(() => synthesize({}, { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'cn-north-1' })).toThrow(
      'Amazon Cognito user pools are not available in cn-north-1: trust an existing OpenID Connect issuer with -c jwtIssuer=<https issuer URL> -c jwtAudience=<audience>.',
    );
    expect(() => synthesize({ jwtIssuer: 'https://login.example.cn/', jwtAudience: 'api' }, { CDK_DEFAULT_ACCOUNT: '123456789012', CDK_DEFAULT_REGION: 'cn-north-1' })).not.toThrow();
  });

  it('should let a user pool be destroyed with the stack when removalPolicy is destroy', () => {
    const { template: destroyable } = synthesize({ removalPolicy: 'destroy' });
    const [, pool] = resourcesOf<{ DeletionProtection: string }>(destroyable, 'AWS::Cognito::UserPool')[0]!;
    expect([pool.DeletionPolicy, pool.Properties.DeletionProtection]).toEqual(['Delete', 'INACTIVE']);
  });
});

describe('API authorization trusting an existing issuer (-c jwtIssuer=… -c jwtAudience=…)', () => {
  const ISSUER = 'https://acme.eu.auth0.com/';
  const { stack, template } = synthesize({ jwtIssuer: ISSUER, jwtAudience: 'https://api.acme.example, tenant-lifecycle-api' });

  it('should create no user pool, resource server, app client, domain or trigger', () => {
    for (const type of ['AWS::Cognito::UserPool', 'AWS::Cognito::UserPoolResourceServer', 'AWS::Cognito::UserPoolClient', 'AWS::Cognito::UserPoolDomain']) template.resourceCountIs(type, 0);
    expect(stack.identity).toBeUndefined();
    expect(handlerFunctions(stack).map((handler) => handler.entry)).not.toContain('functions/auth/pre-token-generation.ts');
  });

  it('should authorize with the given issuer and audience', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: ISSUER, Audience: ['https://api.acme.example', 'tenant-lifecycle-api'] },
    });
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.JwtIssuer?.Value).toBe(ISSUER);
  });

  it('should still ask every route but the public ones for the default scopes', () => {
    for (const route of ALL_ROUTES) expect([route.id, routeResource(template, route).AuthorizationScopes]).toEqual([route.id, expectedScopes(route)]);
  });

  it("should use the identity provider's own scope and claim names when given, on the routes and in every API function", () => {
    const { stack: mapped, template: mappedTemplate } = synthesize({ jwtIssuer: ISSUER, jwtAudience: 'api', jwtOperatorScope: 'lifecycle:admin', jwtTenantScope: 'lifecycle:app', jwtTenantClaim: 'https://acme.example/tenant' });
    for (const route of ALL_ROUTES) {
      expect([route.id, routeResource(mappedTemplate, route).AuthorizationScopes]).toEqual([route.id, expectedScopes(route, 'lifecycle:admin', 'lifecycle:app')]);
      expect(variablesOf(mappedTemplate, logicalId(mapped, mapped.api.routeFunction(route.id).function))).toMatchObject({
        JWT_OPERATOR_SCOPE: 'lifecycle:admin',
        JWT_TENANT_SCOPE: 'lifecycle:app',
        JWT_TENANT_CLAIM: 'https://acme.example/tenant',
      });
    }
  });

  it.each([
    [{ jwtIssuer: 'http://idp.acme.example/' , jwtAudience: 'api' }, "Context jwtIssuer must be the identity provider's https issuer URL"],
    [{ jwtIssuer: 'not a url', jwtAudience: 'api' }, "Context jwtIssuer must be the identity provider's https issuer URL"],
    [{ jwtIssuer: ISSUER }, 'Context jwtAudience is required with jwtIssuer'],
    [{ jwtIssuer: ISSUER, jwtAudience: ' , ' }, 'Context jwtAudience is required with jwtIssuer'],
    [{ jwtIssuer: ISSUER, jwtAudience: 'api', jwtOperatorScope: 'has space' }, 'Context jwtOperatorScope must be one scope'],
    [{ jwtIssuer: ISSUER, jwtAudience: 'api', jwtOperatorScope: 'same', jwtTenantScope: 'same' }, 'must differ'],
    [{ jwtIssuer: ISSUER, jwtAudience: 'api', cognitoDomainPrefix: 'acme' }, 'Context cognitoDomainPrefix and operatorCallbackUrls configure the stack\'s own user pool'],
  ])('should refuse %j at synth, saying what to fix', (context, message) => {
    expect(() => synthesize(context)).toThrow(message);
  });
});
