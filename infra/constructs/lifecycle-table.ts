/**
 * The lifecycle table on AWS: tenants, their audit trail and idempotency records, in the key design of
 * `functions/tenants/tenant-table.ts`, with least-privilege grants for the route handlers.
 */
import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, ProjectionType, StreamViewType, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, PolicyStatement, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import type { TableGrant } from '../../functions/api/routes';
import { BY_STATE_INDEX, BY_TENANT_INDEX, STREAM_VIEW_TYPE, TABLE_KEYS, TTL_ATTRIBUTE } from '../../functions/tenants/tenant-table';

/** What a reader may do: point reads and queries (the tenant partition, the byState and byTenant indexes); never Scan. */
const READ_ACTIONS = ['dynamodb:GetItem', 'dynamodb:Query'];
/**
 * What a writer may add: item writes, the condition checks of TransactWriteItems, and BatchWriteItem (a data
 * source's purge deletes 25 keys a request: no more than DeleteItem allows, in fewer calls); never on an index.
 */
const WRITE_ACTIONS = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:BatchWriteItem'];

export interface LifecycleTableProps {
  /**
   * What CloudFormation does with the table when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Refuse `DeleteTable` until this is turned off (a separate deployment).
   * @default true
   */
  readonly deletionProtection?: boolean;
}

export class LifecycleTable extends Construct {
  readonly table: Table;
  /** The `byState` index's ARN, exactly (no wildcard over other indexes). */
  readonly byStateIndexArn: string;
  /** The sparse `byTenant` index's ARN: a tenant's items of partitions of their own (operations, subscription links, local schedules). */
  readonly byTenantIndexArn: string;

  constructor(scope: Construct, id: string, props: LifecycleTableProps = {}) {
    super(scope, id);
    // A plain Table (not TableV2's GlobalTable) so cdk-nag's DDB3 check also sees the PITR setting.
    this.table = new Table(this, 'Table', {
      partitionKey: { name: TABLE_KEYS.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE_KEYS.sortKey, type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: TTL_ATTRIBUTE,
      // The lifecycle events' outbox (infra/constructs/lifecycle-events.ts reads it).
      stream: StreamViewType[STREAM_VIEW_TYPE],
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      deletionProtection: props.deletionProtection ?? true,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    for (const index of [BY_STATE_INDEX, BY_TENANT_INDEX]) {
      this.table.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: AttributeType.STRING },
        sortKey: { name: index.sortKey, type: AttributeType.STRING },
        projectionType: ProjectionType.ALL,
      });
    }
    this.byStateIndexArn = `${this.table.tableArn}/index/${BY_STATE_INDEX.name}`;
    this.byTenantIndexArn = `${this.table.tableArn}/index/${BY_TENANT_INDEX.name}`;
  }

  /** Read tenants: GetItem and Query on the table and on its two indexes (each named, no wildcard). */
  grantReadTenants(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({ grantee, actions: READ_ACTIONS, resourceArns: [this.table.tableArn, this.byStateIndexArn, this.byTenantIndexArn] });
  }

  /** The ARN of the table, or of one of its indexes by name (each named exactly, no wildcard). */
  resourceArn(index?: TableGrant['index']): string {
    if (index === undefined) return this.table.tableArn;
    return index === BY_STATE_INDEX.name ? this.byStateIndexArn : this.byTenantIndexArn;
  }

  /**
   * Grant exactly `grants` (a route's, `routeTableGrants`): one policy statement each, its actions on the table or
   * the named index, for items whose partition key (an index's own, for a Query on it) matches its patterns:
   * `ForAllValues:StringLike` on `dynamodb:LeadingKeys`, with `Null: false` on it, because `ForAllValues` is true
   * when the key is missing from the request (IAM User Guide, "Multivalued context keys"), so a request naming no
   * partition, a Scan say, is refused rather than allowed. Nothing is granted for an empty list.
   */
  grantStatements(grantee: IGrantable, grants: readonly TableGrant[]): void {
    for (const grant of grants) {
      grantee.grantPrincipal.addToPrincipalPolicy(
        new PolicyStatement({
          actions: grant.actions.map((action) => `dynamodb:${action}`),
          resources: [this.resourceArn(grant.index)],
          conditions: {
            'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [...grant.leadingKeys] },
            Null: { 'dynamodb:LeadingKeys': 'false' },
          },
        }),
      );
    }
  }

  /** Read tenants, and change them: item writes on the table itself only. */
  grantWriteTenants(grantee: IGrantable): Grant {
    const write = Grant.addToPrincipal({ grantee, actions: WRITE_ACTIONS, resourceArns: [this.table.tableArn] });
    return this.grantReadTenants(grantee).combine(write);
  }
}
