/**
 * The local stack's stand-in for IAM on the lifecycle table: a middleware on the shared DynamoDB client
 * (functions/shared/aws-clients.ts) that checks every call made under a route's grant (functions/shared/
 * table-grant-scope.ts, set by the local API adapter around the route's handler) against that grant, the very
 * statements the CDK stack gives the route's function (`routeTableGrants`, functions/api/routes.ts), and refuses
 * what they do not allow with an AccessDeniedException, as DynamoDB does. So a route that needs an action or a
 * partition its grant lacks fails in the local stack and the integration suite, not first in production.
 *
 * What is checked is what IAM checks (Amazon DynamoDB developer guide, "Using IAM policy conditions for
 * fine-grained access control", and the Service Authorization Reference for DynamoDB): the action (a
 * TransactWriteItems is authorized as each of its items' PutItem, UpdateItem, DeleteItem or ConditionCheckItem, a
 * TransactGetItems as GetItem), the resource (the table, or the index a Query names), and `dynamodb:LeadingKeys`,
 * the partition key values the request touches (an index's own partition key for a Query on an index; every
 * item's for BatchWriteItem and BatchGetItem, which one statement must allow together: `ForAllValues`). A request
 * with no leading key (Scan, a Query whose key condition names no partition) is refused, as the grants' `Null`
 * condition does on AWS.
 */
import { DynamoDBServiceException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { grantAllows, type TableAccessRequest, type TableAction, type TableGrant } from '../../functions/api/routes';
import { config } from '../../functions/shared/config';
import { currentTableGrant } from '../../functions/shared/table-grant-scope';
import { BY_STATE_INDEX, BY_TENANT_INDEX, TABLE_KEYS } from '../../functions/tenants/tenant-table';

type AttributeValue = { readonly S?: string; readonly N?: string; readonly B?: unknown };
type Item = Readonly<Record<string, AttributeValue>>;
type Input = Readonly<Record<string, unknown>>;

const PARTITION_KEY_OF_INDEX: Readonly<Record<string, string>> = {
  [BY_STATE_INDEX.name]: BY_STATE_INDEX.partitionKey,
  [BY_TENANT_INDEX.name]: BY_TENANT_INDEX.partitionKey,
};

/** The value of a key attribute as IAM compares it: a string (numbers too, as their text). */
function keyValue(value: AttributeValue | undefined): string[] {
  const text = value?.S ?? value?.N;
  return text === undefined ? [] : [text];
}

function leadingKey(item: Item | undefined): string[] {
  return keyValue(item?.[TABLE_KEYS.partitionKey]);
}

/**
 * The partition key value a Query's key condition fixes (`<partition key> = :value`, the only form DynamoDB accepts
 * for it), on the table or the index it names; none when the condition does not name one.
 */
function queryLeadingKeys(input: Input): string[] {
  const index = input.IndexName as string | undefined;
  const attribute = index === undefined ? TABLE_KEYS.partitionKey : PARTITION_KEY_OF_INDEX[index];
  if (attribute === undefined) return [];
  const names = (input.ExpressionAttributeNames ?? {}) as Readonly<Record<string, string>>;
  const values = (input.ExpressionAttributeValues ?? {}) as Readonly<Record<string, AttributeValue>>;
  const condition = input.KeyConditionExpression as string | undefined;
  if (condition === undefined) {
    const legacy = (input.KeyConditions as Readonly<Record<string, { AttributeValueList?: AttributeValue[]; ComparisonOperator?: string }>> | undefined)?.[attribute];
    return legacy?.ComparisonOperator === 'EQ' ? keyValue(legacy.AttributeValueList?.[0]) : [];
  }
  for (const clause of condition.split(/\s+and\s+/i)) {
    const equality = /^\s*\(?\s*([#\w.]+)\s*=\s*(:\w+)\s*\)?\s*$/.exec(clause);
    if (!equality) continue;
    const [, operand, placeholder] = equality as unknown as [string, string, string];
    const name = operand.startsWith('#') ? names[operand] : operand;
    if (name === attribute) return keyValue(values[placeholder]);
  }
  return [];
}

/** What a DynamoDB command asks of IAM: one request per action on one table or index (a transaction, one per item). */
export function accessRequests(commandName: string, input: Input): TableAccessRequest[] {
  const action = commandName.replace(/Command$/, '');
  const table = input.TableName as string | undefined;
  switch (action) {
    case 'GetItem':
    case 'UpdateItem':
    case 'DeleteItem':
      return [{ action, table, leadingKeys: leadingKey(input.Key as Item) }];
    case 'PutItem':
      return [{ action, table, leadingKeys: leadingKey(input.Item as Item) }];
    case 'Query':
      return [{ action, table, index: input.IndexName as string | undefined, leadingKeys: queryLeadingKeys(input) }];
    case 'BatchWriteItem': {
      const tables = (input.RequestItems ?? {}) as Readonly<Record<string, readonly { PutRequest?: { Item: Item }; DeleteRequest?: { Key: Item } }[]>>;
      return Object.entries(tables).map(([name, writes]) => ({
        action,
        table: name,
        leadingKeys: writes.flatMap((write) => leadingKey(write.PutRequest?.Item ?? write.DeleteRequest?.Key)),
      }));
    }
    case 'BatchGetItem': {
      const tables = (input.RequestItems ?? {}) as Readonly<Record<string, { Keys?: readonly Item[] }>>;
      return Object.entries(tables).map(([name, read]) => ({ action, table: name, leadingKeys: (read.Keys ?? []).flatMap(leadingKey) }));
    }
    case 'TransactWriteItems': {
      const items = (input.TransactItems ?? []) as readonly Readonly<Record<string, { TableName?: string; Key?: Item; Item?: Item }>>[];
      const actions: Readonly<Record<string, TableAction>> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
      return items.flatMap((item) =>
        Object.entries(item).map(([kind, operation]) => ({ action: actions[kind] ?? kind, table: operation.TableName, leadingKeys: leadingKey(operation.Item ?? operation.Key) })),
      );
    }
    case 'TransactGetItems': {
      const items = (input.TransactItems ?? []) as readonly { Get?: { TableName?: string; Key?: Item } }[];
      return items.map((item) => ({ action: 'GetItem', table: item.Get?.TableName, leadingKeys: leadingKey(item.Get?.Key) }));
    }
    default:
      // Scan, PartiQL, table management: no route is ever granted them.
      return [{ action, table, leadingKeys: [] }];
  }
}

function resourceArn(request: TableAccessRequest): string {
  return `arn:aws:dynamodb:${config.region}:000000000000:table/${request.table ?? ''}${request.index ? `/index/${request.index}` : ''}`;
}

/** DynamoDB's refusal, in the shape the SDK gives it (name, HTTP 400, a client fault), with AWS's message. */
export function accessDenied(principal: string, request: TableAccessRequest): DynamoDBServiceException {
  const keys = request.leadingKeys.length ? request.leadingKeys.join(', ') : 'none';
  return new DynamoDBServiceException({
    name: 'AccessDeniedException',
    $fault: 'client',
    $metadata: { httpStatusCode: 400 },
    message:
      `User: arn:aws:sts::000000000000:assumed-role/${principal}/local is not authorized to perform: dynamodb:${request.action} on resource: ${resourceArn(request)} ` +
      `because no identity-based policy allows the dynamodb:${request.action} action (dynamodb:LeadingKeys: ${keys}). Add it to the route's \`table\` grant in functions/api/routes.ts.`,
  });
}

/** The first request of a command that `statements` do not allow on `tableName`, or undefined when all are allowed. */
export function refusedRequest(statements: readonly TableGrant[], tableName: string, commandName: string, input: Input): TableAccessRequest | undefined {
  return accessRequests(commandName, input).find((request) => !(request.table === tableName && grantAllows(statements, request)));
}

const guarded = new WeakSet<DynamoDBClient>();

/**
 * Check every call `client` sends under a route's grant (a no-op outside one). Idempotent per client. The check
 * runs at the build step: after the document client has marshalled its input, before anything is sent.
 */
export function guardTableGrants(client: DynamoDBClient): void {
  if (guarded.has(client)) return;
  guarded.add(client);
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const grant = currentTableGrant<TableGrant>();
      if (grant) {
        const refused = refusedRequest(grant.statements, config.tableName, context.commandName as string, args.input as Input);
        if (refused) throw accessDenied(grant.principal, refused);
      }
      return next(args);
    },
    { step: 'build', priority: 'high', name: 'localTableGrantGuard' },
  );
}
