/**
 * The route table's DynamoDB grants (functions/api/routes.ts `table`, `routeTableGrants`) name partitions the
 * table really has: every leading-key prefix is the `pkPrefix` of an item kind a data source declares (or the
 * rate limiter's), every byState partition a tenant state or the compliance violations' partition; and what
 * follows from a route's properties is there (idempotency records, the rate-limit bucket).
 */
import { S3Client } from '@aws-sdk/client-s3';
import { FALLBACK_ROUTE, ROUTES, grantAllows, honoursIdempotencyKey, routeTableGrants } from '../../../functions/api/routes';
import { LedgerBilling } from '../../../functions/billing/ledger-billing';
import { createDataSources, tableItemOwners } from '../../../functions/data-sources/registry';
import { S3VectorStore } from '../../../functions/data-sources/s3-vector-store';
import { TENANT_STATES } from '../../../functions/lifecycle/lifecycle-table';
import { getDocumentClient } from '../../../functions/shared/aws-clients';
import { RATE_LIMIT_PK_PREFIX } from '../../../functions/shared/http/rate-limit';
import { VIOLATIONS_PARTITION } from '../../../functions/tenants/tenant-store';

const ALL_ROUTES = [...ROUTES, FALLBACK_ROUTE];
const table = { client: getDocumentClient(), tableName: 't' };
const s3 = new S3Client({ region: 'us-east-1' });
const sources = createDataSources({ ...table, s3: () => s3, documents: { bucket: 'b' }, vectorStore: new S3VectorStore({ s3: () => s3, bucket: 'b' }), billing: new LedgerBilling(table) });

describe('routeTableGrants', () => {
  it("should name only partitions of the table's key design", () => {
    const prefixes = new Set([...tableItemOwners(sources).map(({ kind }) => `${kind.pkPrefix}*`), `${RATE_LIMIT_PK_PREFIX}*`]);
    const byState = new Set<string>([...TENANT_STATES, VIOLATIONS_PARTITION]);
    const unknown = ALL_ROUTES.flatMap((route) =>
      routeTableGrants(route).flatMap((grant) =>
        grant.leadingKeys.filter((key) => (grant.index === 'byState' ? !byState.has(key) : grant.index !== undefined || !prefixes.has(key))).map((key) => `${route.id}: ${grant.index ?? 'table'} ${key}`),
      ),
    );
    expect(unknown).toEqual([]);
  });

  it('should give every idempotent route and the Stripe webhook the idempotency records, every authenticated route apiRoute serves (not the fallback 404) the rate-limit bucket, and a public route nothing it does not declare', () => {
    for (const route of ALL_ROUTES) {
      const grants = routeTableGrants(route);
      const recordsOf = (partition: string) => grantAllows(grants, { action: 'PutItem', leadingKeys: [partition] });
      expect([route.id, recordsOf('IDEMPOTENCY#acme')]).toEqual([route.id, honoursIdempotencyKey(route) || route.verifiedBy === 'stripe-signature']);
      expect([route.id, grantAllows(grants, { action: 'UpdateItem', leadingKeys: ['RATE_LIMIT#user@acme'] })]).toEqual([route.id, route.authenticated && route.id !== 'NotFound']);
    }
    expect(routeTableGrants(ROUTES.find((route) => route.id === 'Health')!)).toEqual([]);
  });

  it('should merge statements of the same resource and partitions, actions sorted, and keep those of other resources apart', () => {
    const route = { ...ROUTES.find((candidate) => candidate.id === 'GetTenant')!, table: [
      { actions: ['Query' as const], leadingKeys: ['TENANT#*'] },
      { actions: ['GetItem' as const, 'Query' as const], leadingKeys: ['TENANT#*', 'TENANT#*'] },
      { actions: ['Query' as const], index: 'byState' as const, leadingKeys: ['active'] },
    ] };
    expect(routeTableGrants(route)).toEqual([
      { actions: ['GetItem', 'Query'], leadingKeys: ['TENANT#*'] },
      { actions: ['Query'], index: 'byState', leadingKeys: ['active'] },
      { actions: ['UpdateItem'], leadingKeys: ['RATE_LIMIT#*'] },
    ]);
  });

  it("should match leading keys as IAM's StringLike does, every key of a request by one statement, and refuse a request naming none", () => {
    const grants = [{ actions: ['BatchWriteItem' as const], leadingKeys: ['TENANT#*', 'a?c'] }, { actions: ['BatchWriteItem' as const], leadingKeys: ['OPERATION#*'] }];
    expect(grantAllows(grants, { action: 'BatchWriteItem', leadingKeys: ['TENANT#x', 'abc'] })).toBe(true);
    expect(grantAllows(grants, { action: 'BatchWriteItem', leadingKeys: ['abbc'] })).toBe(false);
    expect(grantAllows(grants, { action: 'BatchWriteItem', leadingKeys: ['TENANT#x', 'OPERATION#y'] })).toBe(false);
    expect(grantAllows(grants, { action: 'BatchWriteItem', leadingKeys: ['XTENANT#x'] })).toBe(false);
    expect(grantAllows(grants, { action: 'BatchWriteItem', leadingKeys: [] })).toBe(false);
    expect(grantAllows([{ actions: ['GetItem'], leadingKeys: ['a.b'] }], { action: 'GetItem', leadingKeys: ['axb'] })).toBe(false);
  });
});
