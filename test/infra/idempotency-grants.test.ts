/**
 * What Powertools' idempotency persistence layer sends to DynamoDB (recorded with aws-sdk-client-mock while
 * runIdempotent claims a key, stores a result, releases a failed one and reads a record it did not get back) is
 * allowed by the grant every function that runs it gets: routes that honour the Idempotency-Key and the Stripe
 * webhook on the `IDEMPOTENCY#` partitions (`routeTableGrants`, functions/api/routes.ts), the Stripe EventBridge
 * processor by grantWriteTenants (infra/constructs/stripe-events.ts).
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { ROUTES, grantAllows, honoursIdempotencyKey, routeTableGrants } from '../../functions/api/routes';
import { runIdempotent } from '../../functions/shared/idempotency';
import { LifecycleTable } from '../../infra/constructs/lifecycle-table';
import { asArray, cdkOutdir, removeCdkOutdirs, statementsOf } from '../support/cdk-template';

afterAll(removeCdkOutdirs);

/** The IAM action of each command the persistence layer sent (`PutItemCommand` → `dynamodb:PutItem`). */
async function actionsSent(): Promise<string[]> {
  const client = new DynamoDBClient({ region: 'us-east-1' });
  const mock = mockClient(client);
  const work = (key: string, run: () => Promise<string>) => runIdempotent({ client, tableName: 't', tenantId: 'acme', kind: 'TEST', key, request: { a: 1 }, expiresAfterSeconds: 60, run });
  const sent: string[] = [];
  const record = () => sent.push(...mock.calls().map((call) => `dynamodb:${(call.args[0] as object).constructor.name.replace(/Command$/, '')}`));
  // A claim refused without the existing record: Powertools reads it.
  mock.rejectsOnce(new ConditionalCheckFailedException({ message: 'exists', $metadata: {} })).on(GetItemCommand).resolves({});
  await expect(work('exists', async () => 'never')).rejects.toMatchObject({ name: 'IdempotencyItemNotFoundError' });
  record();
  mock.reset().resolves({});
  await work('ok', async () => 'done'); // claim, then store the result
  await expect(work('fails', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom'); // claim, then release
  record();
  mock.restore();
  return [...new Set(sent)].sort();
}

it('should send only GetItem, PutItem, UpdateItem and DeleteItem (the persistence layer as configured)', async () => {
  expect(await actionsSent()).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
});

it('should be allowed all of them by grantWriteTenants, on the table itself', async () => {
  const stack = new Stack(new App({ outdir: cdkOutdir('idempotency-grants') }), 'Grants');
  const table = new LifecycleTable(stack, 'Lifecycle');
  table.grantWriteTenants(new Role(stack, 'Grantee', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') }));
  const granted = statementsOf(Template.fromStack(stack)).flatMap((statement) => asArray(statement.Action));
  expect(granted).toEqual(expect.arrayContaining(await actionsSent()));
});

it("should be allowed all of them, on the tenant's idempotency partition, to every route that runs it: every one honouring the Idempotency-Key, and the Stripe webhook", async () => {
  const running = ROUTES.filter((route) => honoursIdempotencyKey(route) || route.verifiedBy === 'stripe-signature');
  expect(running.length).toBeGreaterThan(5);
  const actions = (await actionsSent()).map((action) => action.replace('dynamodb:', ''));
  const refused = running.flatMap((route) =>
    actions.filter((action) => !grantAllows(routeTableGrants(route), { action, leadingKeys: ['IDEMPOTENCY#acme'] })).map((action) => `${route.id} ${action}`),
  );
  expect(refused).toEqual([]);
});
