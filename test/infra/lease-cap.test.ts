/** The cap on a tenant's live query leases, as deployed: the AcquireQueryLease function's MAX_LIVE_LEASES_PER_TENANT. */
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/app';
import { maxLiveLeasesOf } from '../../infra/tenant-lifecycle-stack';
import { cdkOutdir, removeCdkOutdirs, synthContext } from '../support/cdk-template';

afterAll(removeCdkOutdirs);

const build = (context: Record<string, unknown>) => buildApp({ outdir: cdkOutdir('lease-cap'), context: synthContext(context), nag: false, variables: {} });

describe('Stack: lease cap', () => {
  it('should give the AcquireQueryLease function, and no other, the cap of context maxLiveLeasesPerTenant', () => {
    const functions = Template.fromStack(build({ maxLiveLeasesPerTenant: '8' }).stack).findResources('AWS::Lambda::Function');

    type LambdaFunction = { Properties: { Description?: string; Environment?: { Variables?: Record<string, string> } } };
    const caps = (Object.values(functions) as LambdaFunction[]).flatMap(({ Properties }) => {
      const cap = Properties.Environment?.Variables?.MAX_LIVE_LEASES_PER_TENANT;
      return cap === undefined ? [] : [[Properties.Description, cap]];
    });

    expect(caps).toEqual([['Tenant lifecycle API: AcquireQueryLease (POST /tenants/{tenantId}/leases)', '8']]);
  });

  it('should default to the cap the functions default to (100), and take 1 to 1000', () => {
    expect(maxLiveLeasesOf(undefined)).toBe(100);
    expect(maxLiveLeasesOf(1)).toBe(1);
    expect(maxLiveLeasesOf(1000)).toBe(1000);
  });

  it.each([0, 1001, 2.5])('should refuse a cap of %p, saying what it must be', (value) => {
    expect(() => maxLiveLeasesOf(value)).toThrow(`maxLiveLeasesPerTenant must be a whole number from 1 to 1000, got ${value}.`);
  });

  it.each(['many', '', true])('should refuse context maxLiveLeasesPerTenant=%p before building anything', (value) => {
    expect(() => build({ maxLiveLeasesPerTenant: value })).toThrow(`Context maxLiveLeasesPerTenant must be a whole number, got '${String(value)}'.`);
  });
});
