/**
 * Each API route's function may do to the lifecycle table exactly what its route needs (issue 13, part 2): the
 * table below is written out by hand, not derived from the route table, so a grant that grows (or shrinks) in
 * functions/api/routes.ts fails here until this list says so too. Each line: the actions, the resource (the table,
 * or one index by name), and the `dynamodb:LeadingKeys` patterns of one policy statement, which must carry
 * `ForAllValues:StringLike` on them and `Null: false` (a request naming no partition, a Scan, is refused).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { FALLBACK_ROUTE, ROUTES } from '../../functions/api/routes';
import { buildApp } from '../../infra/app';
import type { TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import { asArray, cdkOutdir, logicalId, removeCdkOutdirs, statementsOfRole, synthContext, type Statement } from '../support/cdk-template';

type Resource = 'table' | 'byState' | 'byTenant';
/** One statement: sorted actions (without `dynamodb:`), its resource, its sorted leading-key patterns. */
type Expected = readonly [actions: readonly string[], resource: Resource, leadingKeys: readonly string[]];

const STATES = ['active', 'deleted', 'deleting', 'downgrading', 'exporting', 'reactivating', 'suspended', 'upgrading'];
const RATE_LIMIT: Expected = [['UpdateItem'], 'table', ['RATE_LIMIT#*']];
const IDEMPOTENCY: Expected = [['DeleteItem', 'GetItem', 'PutItem', 'UpdateItem'], 'table', ['IDEMPOTENCY#*']];
const TRANSITION: Expected = [['GetItem', 'PutItem', 'UpdateItem'], 'table', ['TENANT#*']];

const EXPECTED: Readonly<Record<string, readonly Expected[]>> = {
  Health: [],
  NotFound: [],
  CreateTenant: [[['GetItem', 'PutItem', 'Query'], 'table', ['TENANT#*']], [['GetItem', 'PutItem'], 'table', ['SUBSCRIPTION#*']], IDEMPOTENCY, RATE_LIMIT],
  ListTenants: [[['Query'], 'byState', STATES], RATE_LIMIT],
  GetTenant: [[['GetItem'], 'table', ['TENANT#*']], RATE_LIMIT],
  TenantHistory: [[['GetItem', 'Query'], 'table', ['TENANT#*']], RATE_LIMIT],
  SuspendTenant: [TRANSITION, IDEMPOTENCY, RATE_LIMIT],
  ResumeTenant: [TRANSITION, IDEMPOTENCY, RATE_LIMIT],
  CheckAccess: [[['GetItem'], 'table', ['TENANT#*']], RATE_LIMIT],
  ReportUsage: [[['GetItem', 'UpdateItem'], 'table', ['TENANT#*']], RATE_LIMIT],
  AcquireQueryLease: [[['ConditionCheckItem', 'PutItem', 'Query'], 'table', ['TENANT#*']], IDEMPOTENCY, RATE_LIMIT],
  ReleaseQueryLease: [[['DeleteItem'], 'table', ['TENANT#*']], RATE_LIMIT],
  ChangePlan: [[['GetItem', 'PutItem', 'Query', 'UpdateItem'], 'table', ['TENANT#*']], [['PutItem', 'UpdateItem'], 'table', ['OPERATION#*']], IDEMPOTENCY, RATE_LIMIT],
  CancelScheduledPlanChange: [TRANSITION, [['GetItem', 'UpdateItem'], 'table', ['OPERATION#*']], RATE_LIMIT],
  InitiateDeletion: [
    [['GetItem', 'PutItem', 'Query', 'UpdateItem'], 'table', ['TENANT#*']],
    [['GetItem', 'UpdateItem'], 'table', ['OPERATION#*']],
    [['GetItem'], 'table', ['SUBSCRIPTION#*']],
    IDEMPOTENCY,
    RATE_LIMIT,
  ],
  CancelDeletion: [[['GetItem', 'PutItem', 'Query', 'UpdateItem'], 'table', ['TENANT#*']], [['GetItem', 'PutItem'], 'table', ['SUBSCRIPTION#*']], RATE_LIMIT],
  PlaceLegalHold: [TRANSITION, RATE_LIMIT],
  ReleaseLegalHold: [TRANSITION, RATE_LIMIT],
  ReactivateTenant: [TRANSITION, [['PutItem', 'UpdateItem'], 'table', ['OPERATION#*']], IDEMPOTENCY, RATE_LIMIT],
  StartExport: [TRANSITION, [['PutItem', 'UpdateItem'], 'table', ['OPERATION#*']], IDEMPOTENCY, RATE_LIMIT],
  ListExports: [[['GetItem', 'Query'], 'table', ['TENANT#*']], [['GetItem'], 'table', ['OPERATION#*']], RATE_LIMIT],
  GetExport: [[['GetItem'], 'table', ['OPERATION#*']], RATE_LIMIT],
  GetDeletionCertificate: [[['GetItem'], 'table', ['TENANT#*']], RATE_LIMIT],
  ListComplianceViolations: [[['Query'], 'byState', ['compliance:violation']], RATE_LIMIT],
  StripeWebhook: [[['ConditionCheckItem', 'GetItem', 'PutItem', 'UpdateItem'], 'table', ['TENANT#*']], [['GetItem', 'UpdateItem'], 'table', ['SUBSCRIPTION#*']], IDEMPOTENCY],
  ReconcileBilling: [[['Query'], 'byState', STATES], TRANSITION, [['GetItem'], 'table', ['SUBSCRIPTION#*']], IDEMPOTENCY, RATE_LIMIT],
  GetOperation: [[['GetItem'], 'table', ['OPERATION#*']], RATE_LIMIT],
};

const { stack } = buildApp({ outdir: cdkOutdir('route-iam'), nag: false, context: synthContext() }) as { stack: TenantLifecycleStack };
const template = Template.fromStack(stack);
const tableArn = { 'Fn::GetAtt': [logicalId(stack, stack.table.table), 'Arn'] };

afterAll(removeCdkOutdirs);

function resourceOf(statement: Statement): Resource | string {
  const resource = JSON.stringify(statement.Resource);
  if (resource === JSON.stringify(tableArn)) return 'table';
  for (const index of ['byState', 'byTenant'] as const) {
    if (resource === JSON.stringify({ 'Fn::Join': ['', [tableArn, `/index/${index}`]] })) return index;
  }
  return resource;
}

/** The DynamoDB statements of a route's function, as the table's lines; throws on a statement of another shape. */
function dynamoDbStatements(routeId: string): Expected[] {
  const handler = stack.api.routeFunctions[routeId]!;
  return statementsOfRole(template, logicalId(stack, handler.role))
    .filter((statement) => asArray(statement.Action).some((action) => action.startsWith('dynamodb:')))
    .map((statement) => {
      const condition = (statement as { Condition?: Record<string, Record<string, unknown>> }).Condition;
      const leadingKeys = asArray(condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'] as string | string[] | undefined);
      // The exact condition: the patterns, and the key required to be there.
      expect([routeId, condition]).toEqual([routeId, { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': leadingKeys }, Null: { 'dynamodb:LeadingKeys': 'false' } }]);
      expect(statement.Effect).toBe('Allow');
      return [asArray(statement.Action).map((action) => action.replace(/^dynamodb:/, '')).sort(), resourceOf(statement) as Resource, [...leadingKeys].sort()] as const;
    });
}

const sortLines = (lines: readonly Expected[]) => [...lines].map((line) => JSON.stringify(line)).sort();

describe('Route functions: their DynamoDB statements', () => {
  it('should list every route of the table, and the fallback, in the expectation table', () => {
    expect(Object.keys(EXPECTED).sort()).toEqual([...ROUTES, FALLBACK_ROUTE].map((route) => route.id).sort());
  });

  it.each(Object.entries(EXPECTED))('should give %s exactly its actions, resources and LeadingKeys conditions', (routeId, expected) => {
    expect(sortLines(dynamoDbStatements(routeId))).toEqual(sortLines(expected));
  });

  it('should grant no route function Scan, a table-wide action or a wildcard resource on DynamoDB', () => {
    const granted = Object.keys(EXPECTED).flatMap((routeId) =>
      statementsOfRole(template, logicalId(stack, stack.api.routeFunctions[routeId]!.role)).filter((statement) =>
        asArray(statement.Action).some((action) => action.startsWith('dynamodb:')),
      ),
    );
    expect(granted.length).toBeGreaterThan(0);
    for (const statement of granted) {
      expect(asArray(statement.Action).filter((action) => !/^dynamodb:(GetItem|Query|PutItem|UpdateItem|DeleteItem|ConditionCheckItem|BatchWriteItem|BatchGetItem)$/.test(action))).toEqual([]);
      expect(JSON.stringify(statement.Resource)).not.toContain('*');
    }
  });
});
