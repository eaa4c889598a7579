import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LifecycleTable } from '../../infra/constructs/lifecycle-table';
import { BY_STATE_INDEX, BY_TENANT_INDEX, TABLE_KEYS, TTL_ATTRIBUTE } from '../../functions/tenants/tenant-table';
import { asArray, cdkOutdir, logicalId, removeCdkOutdirs, statementsOf, tableReadResources, TABLE_WRITE_ACTIONS } from '../support/cdk-template';

interface Synthesized {
  readonly template: Template;
  readonly tableLogicalId: string;
}

function synthesize(build: (stack: Stack) => LifecycleTable, grant?: (table: LifecycleTable, role: Role) => void): Synthesized {
  const stack = new Stack(new App({ outdir: cdkOutdir('lifecycle-table') }), 'TableTest');
  const table = build(stack);
  if (grant) grant(table, new Role(stack, 'Grantee', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }));
  return { template: Template.fromStack(stack), tableLogicalId: logicalId(stack, table.table) };
}

afterAll(removeCdkOutdirs);

describe('Class: LifecycleTable', () => {
  describe('Constructor', () => {
    it('should declare the key design of tenant-table.ts with PITR, TTL, the byState and byTenant indexes and encryption', () => {
      // Prepare & Act
      const { template } = synthesize((stack) => new LifecycleTable(stack, 'Lifecycle'));

      // Assess
      template.resourceCountIs('AWS::DynamoDB::Table', 1);
      template.hasResourceProperties('AWS::DynamoDB::Table', {
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [
          { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
        ],
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: TTL_ATTRIBUTE, Enabled: true },
        SSESpecification: { SSEEnabled: true },
        // The lifecycle events' outbox: new audit items, as written (functions/events/).
        StreamSpecification: { StreamViewType: 'NEW_IMAGE' },
        GlobalSecondaryIndexes: [
          {
            IndexName: BY_STATE_INDEX.name,
            KeySchema: [
              { AttributeName: BY_STATE_INDEX.partitionKey, KeyType: 'HASH' },
              { AttributeName: BY_STATE_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
          {
            IndexName: BY_TENANT_INDEX.name,
            KeySchema: [
              { AttributeName: BY_TENANT_INDEX.partitionKey, KeyType: 'HASH' },
              { AttributeName: BY_TENANT_INDEX.sortKey, KeyType: 'RANGE' },
            ],
            Projection: { ProjectionType: 'ALL' },
          },
        ],
      });
    });

    it('should retain the table and protect it from deletion by default', () => {
      // Prepare & Act
      const { template } = synthesize((stack) => new LifecycleTable(stack, 'Lifecycle'));

      // Assess
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: Match.objectLike({ DeletionProtectionEnabled: true }),
      });
    });

    it('should delete an unprotected table when asked to', () => {
      // Prepare & Act
      const { template } = synthesize(
        (stack) => new LifecycleTable(stack, 'Lifecycle', { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: false }),
      );

      // Assess
      template.hasResource('AWS::DynamoDB::Table', {
        DeletionPolicy: 'Delete',
        Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      });
    });
  });

  describe('Method: grantReadTenants', () => {
    it('should allow GetItem and Query on the table and exactly its byState and byTenant indexes, nothing else', () => {
      // Prepare & Act
      const { template, tableLogicalId } = synthesize(
        (stack) => new LifecycleTable(stack, 'Lifecycle'),
        (table, role) => table.grantReadTenants(role),
      );

      // Assess
      const tableArn = { 'Fn::GetAtt': [tableLogicalId, 'Arn'] };
      const statements = statementsOf(template);
      expect(statements).toHaveLength(1);
      expect(asArray(statements[0]?.Action).sort()).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
      expect(statements[0]?.Resource).toEqual(tableReadResources(tableArn));
    });
  });

  describe('Method: grantWriteTenants', () => {
    it('should add item writes on the table ARN only, never on an index or a wildcard', () => {
      // Prepare & Act
      const { template, tableLogicalId } = synthesize(
        (stack) => new LifecycleTable(stack, 'Lifecycle'),
        (table, role) => table.grantWriteTenants(role),
      );

      // Assess
      const tableArn = { 'Fn::GetAtt': [tableLogicalId, 'Arn'] };
      const statements = statementsOf(template);
      const writes = statements.filter((statement) => asArray(statement.Action).some((action) => TABLE_WRITE_ACTIONS.includes(action)));
      expect(writes).toHaveLength(1);
      expect(asArray(writes[0]?.Action).sort()).toEqual(TABLE_WRITE_ACTIONS);
      expect(writes[0]?.Resource).toEqual(tableArn);
      const actions = statements.flatMap((statement) => asArray(statement.Action)).sort();
      expect(actions).toEqual([...TABLE_WRITE_ACTIONS, 'dynamodb:GetItem', 'dynamodb:Query'].sort());
    });
  });

  describe('Method: grantStatements', () => {
    it('should grant each statement exactly, on the table or the named index, with LeadingKeys required and limited to its patterns', () => {
      // Prepare & Act
      const { template, tableLogicalId } = synthesize(
        (stack) => new LifecycleTable(stack, 'Lifecycle'),
        (table, role) =>
          table.grantStatements(role, [
            { actions: ['GetItem', 'PutItem'], leadingKeys: ['TENANT#*'] },
            { actions: ['Query'], index: 'byState', leadingKeys: ['active', 'suspended'] },
            { actions: ['Query'], index: 'byTenant', leadingKeys: ['acme'] },
          ]),
      );

      // Assess
      const tableArn = { 'Fn::GetAtt': [tableLogicalId, 'Arn'] };
      const condition = (keys: string[]) => ({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': keys }, Null: { 'dynamodb:LeadingKeys': 'false' } });
      expect(statementsOf(template)).toEqual([
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: tableArn, Condition: condition(['TENANT#*']) },
        { Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [tableArn, `/index/${BY_STATE_INDEX.name}`]] }, Condition: condition(['active', 'suspended']) },
        { Effect: 'Allow', Action: 'dynamodb:Query', Resource: { 'Fn::Join': ['', [tableArn, `/index/${BY_TENANT_INDEX.name}`]] }, Condition: condition(['acme']) },
      ]);
    });

    it('should grant nothing for no statements', () => {
      // Prepare & Act
      const { template } = synthesize(
        (stack) => new LifecycleTable(stack, 'Lifecycle'),
        (table, role) => table.grantStatements(role, []),
      );

      // Assess
      expect(statementsOf(template)).toEqual([]);
    });
  });
});
