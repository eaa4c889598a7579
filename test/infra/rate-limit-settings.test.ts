/**
 * The per-caller rate limits on AWS: every function apiRoute serves gets the limits (RATE_LIMIT_*, the deployed
 * defaults unless the construct is given others), the public routes and the fallback's 404 none; the stage
 * throttle stays above them as the ceiling every caller shares.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { FALLBACK_ROUTE, ROUTES } from '../../functions/api/routes';
import { DEFAULT_RATE_LIMITS, rateLimitEnvironment } from '../../functions/shared/http/rate-limit-policy';
import { buildApp } from '../../infra/app';
import { checkedRateLimits } from '../../infra/constructs/lifecycle-api';
import { cdkOutdir, logicalId, removeCdkOutdirs, synthContext, variablesOf } from '../support/cdk-template';

afterAll(removeCdkOutdirs);

describe('rate limits of the API functions', () => {
  const { stack } = buildApp({ outdir: cdkOutdir('rate-limits'), nag: false, context: synthContext() });
  const template = Template.fromStack(stack);
  const variablesOfRoute = (routeId: string) => variablesOf(template, logicalId(stack, stack.api.routeFunction(routeId).function));

  it.each(ROUTES.filter((route) => route.authenticated).map((route) => [route.id]))('should give %s the deployed default limits', (routeId) => {
    expect(variablesOfRoute(routeId)).toEqual(expect.objectContaining(rateLimitEnvironment(DEFAULT_RATE_LIMITS)));
  });

  it.each([...ROUTES.filter((route) => !route.authenticated), FALLBACK_ROUTE].map((route) => [route.id]))('should give %s (not served by apiRoute) none', (routeId) => {
    expect(Object.keys(variablesOfRoute(routeId)).filter((name) => name.startsWith('RATE_LIMIT_'))).toEqual([]);
  });

  it("should keep the stage throttle above the defaults: the ceiling every caller shares", () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { DefaultRouteSettings: { ThrottlingRateLimit: 50, ThrottlingBurstLimit: 100 } });
    expect(DEFAULT_RATE_LIMITS.operator.perSecond).toBeLessThan(50);
  });
});

it('should refuse limits a bucket cannot have, naming which', () => {
  expect(checkedRateLimits({ tenant: { perSecond: 0.5, burst: 1 }, operator: { perSecond: 30, burst: 60 } })).toEqual({ tenant: { perSecond: 0.5, burst: 1 }, operator: { perSecond: 30, burst: 60 } });
  expect(() => checkedRateLimits({ ...DEFAULT_RATE_LIMITS, tenant: { perSecond: 0, burst: 5 } })).toThrow('rateLimits.tenant must have a positive perSecond and a positive whole burst, got {"perSecond":0,"burst":5}.');
  expect(() => checkedRateLimits({ ...DEFAULT_RATE_LIMITS, operator: { perSecond: 5, burst: 1.5 } })).toThrow('rateLimits.operator must');
});
