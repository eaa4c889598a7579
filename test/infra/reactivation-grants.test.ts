/**
 * The reactivation workflow's grants, least privilege. The route (POST /tenants/{id}/reactivate) writes the table
 * and starts the reactivation state machine, nothing else: no schedule, no Stripe, no Pinecone, no bucket (the
 * execution's steps do all of that). The Task function gets what the registry entry's `reaches.task` says
 * (billing, provisioning, deleting vectors, documents and exports for a fresh start, and the schedules it cancels
 * and re-arms); the compensation (the "execution ended badly" function) what `reaches.compensation` says (billing,
 * provisioning, re-arming schedules without deleting one); the state machine invokes its Task function only.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../functions/api/routes';
import { REACTIVATION_WORKFLOW } from '../../functions/reactivation/reactivation-definition';
import { stateMachineArnVariable } from '../../functions/workflows/registry';
import { buildApp } from '../../infra/app';
import type { HandlerFunction } from '../../infra/constructs/handler-function';
import type { WorkflowStateMachine } from '../../infra/constructs/workflow-state-machine';
import { REACTIVATE_TENANT_ROUTE_ID, type TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import { actionsOf, cdkOutdir, logicalId, removeCdkOutdirs, SCHEDULE_ACTIONS, statementsOfRole, synthContext, TABLE_WRITE_ACTIONS, variablesOf, type Statement } from '../support/cdk-template';

const STRIPE_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:stripe-key-AbCdEf';
const PINECONE_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:pinecone-key-AbCdEf';

let stack: TenantLifecycleStack;
let template: Template;
let reactivation: WorkflowStateMachine;
beforeAll(() => {
  // Stripe and Pinecone configured: every grant a reach can lead to is in the template.
  ({ stack } = buildApp({ outdir: cdkOutdir('reactivation-grants'), nag: false, context: synthContext({ stripeSecretArn: STRIPE_SECRET, pineconeSecretArn: PINECONE_SECRET, pineconeRegion: 'eu-west-1' }) }));
  template = Template.fromStack(stack);
  reactivation = stack.workflows.get(REACTIVATION_WORKFLOW.name)!;
});
afterAll(() => removeCdkOutdirs());

const statementsOfFunction = (handler: HandlerFunction): Statement[] => statementsOfRole(template, logicalId(stack, handler.role));
/** The actions of `handler`'s role, by service prefix (`scheduler`, `s3`, ...), sorted. */
function actionsBy(handler: HandlerFunction, service: string): string[] {
  return actionsOf(statementsOfFunction(handler))
    .filter((action) => action.startsWith(`${service}:`))
    .sort();
}
/** Whether `handler` may read the secret `arn` (its grant names the ARN without the 6-character suffix). */
const readsSecret = (handler: HandlerFunction, arn: string): boolean => JSON.stringify(statementsOfFunction(handler)).includes(arn.slice(0, -7));
const machineRef = () => ({ Ref: logicalId(stack, reactivation.stateMachine) });

describe('ReactivateTenant route: writes the table and starts the reactivation, nothing else', () => {
  it('should hold exactly its logs, the table and StartExecution on the reactivation state machine, with its ARN in the environment', () => {
    const route = stack.api.routeFunction(REACTIVATE_TENANT_ROUTE_ID);
    const statements = statementsOfFunction(route);

    expect([...new Set(actionsOf(statements).map((action) => action.split(':')[0]))].sort()).toEqual(['dynamodb', 'logs', 'states']);
    // Its exact table statements (partitions, conditions): test/infra/route-iam.test.ts.
    expect([...new Set(actionsBy(route, 'dynamodb'))]).toEqual(['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']);
    expect(statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('states:')))).toEqual([
      expect.objectContaining({ Action: 'states:StartExecution', Effect: 'Allow', Resource: machineRef() }),
    ]);
    const variables = variablesOf(template, logicalId(stack, route.function));
    expect(variables[stateMachineArnVariable(REACTIVATION_WORKFLOW.name)]).toEqual(machineRef());
    // Neither key, not even by name: billing and provisioning are the execution's.
    expect([variables.STRIPE_SECRET_ARN, variables.PINECONE_SECRET_ARN, variables.DOCUMENTS_BUCKET, variables.EXPORTS_BUCKET]).toEqual([undefined, undefined, undefined, undefined]);
    expect([readsSecret(route, STRIPE_SECRET), readsSecret(route, PINECONE_SECRET)]).toEqual([false, false]);
  });

  it.each(ROUTES.filter((route) => route.id !== REACTIVATE_TENANT_ROUTE_ID).map((route) => route.id))('should not let route %s start or name the reactivation state machine', (routeId) => {
    const handler = stack.api.routeFunction(routeId);
    expect(JSON.stringify(statementsOfFunction(handler))).not.toContain(logicalId(stack, reactivation.stateMachine));
    expect(variablesOf(template, logicalId(stack, handler.function))[stateMachineArnVariable(REACTIVATION_WORKFLOW.name)]).toBeUndefined();
  });
});

describe('Reactivation Task and compensation functions: what the registry entry reaches', () => {
  it('should be the reaches these grants are asserted for (a change of the entry must change this test)', () => {
    expect(REACTIVATION_WORKFLOW.reaches).toEqual({
      task: ['billing', 'vectors:provision', 'vectors:delete', 'documents:delete', 'exports:delete', 'schedules'],
      compensation: ['billing', 'vectors:provision', 'schedules:rearm'],
      scheduleTargets: [],
    });
  });

  it('should let the Task function bill, provision and delete vectors (both keys), delete tenant objects without reading them, and create, update and delete schedules; start no execution', () => {
    const task = reactivation.taskFunction;
    expect([readsSecret(task, STRIPE_SECRET), readsSecret(task, PINECONE_SECRET)]).toEqual([true, true]);
    expect(actionsBy(task, 'scheduler')).toEqual([...SCHEDULE_ACTIONS]);
    expect(actionsBy(task, 'iam')).toEqual(['iam:PassRole']);
    // With Pinecone the vectors are not in the documents bucket: tenants/ and exports/ only (prefixes: tenant-lifecycle-stack.test.ts).
    expect([...new Set(actionsBy(task, 's3'))]).toEqual(['s3:DeleteObject', 's3:ListBucket']);
    expect(actionsBy(task, 'states')).toEqual([]);
    expect(actionsBy(task, 'dynamodb')).toEqual(['dynamodb:GetItem', 'dynamodb:Query', ...TABLE_WRITE_ACTIONS].sort());
  });

  it('should let the compensation bill and provision (both keys) and re-arm schedules without deleting one; no bucket, no execution', () => {
    const compensation = reactivation.timeoutFunction;
    expect([readsSecret(compensation, STRIPE_SECRET), readsSecret(compensation, PINECONE_SECRET)]).toEqual([true, true]);
    expect(actionsBy(compensation, 'scheduler')).toEqual(SCHEDULE_ACTIONS.filter((action) => action !== 'scheduler:DeleteSchedule'));
    expect(actionsBy(compensation, 'iam')).toEqual(['iam:PassRole']);
    expect(actionsBy(compensation, 's3')).toEqual([]);
    expect(actionsBy(compensation, 'states')).toEqual([]);
  });

  it('should let the state machine invoke its Task function and no other', () => {
    const statements = statementsOfRole(template, logicalId(stack, reactivation.stateMachine.role));
    const invokes = statements.filter((statement) => actionsOf([statement]).includes('lambda:InvokeFunction'));
    expect(invokes).toEqual([expect.objectContaining({ Resource: { 'Fn::GetAtt': [logicalId(stack, reactivation.taskFunction.function), 'Arn'] } })]);
  });

  it('should run the Task function as long as the registry entry says, above the ASL Task timeouts', () => {
    const properties = template.toJSON().Resources[logicalId(stack, reactivation.taskFunction.function)].Properties as { Timeout: number };
    expect(properties.Timeout).toBe(REACTIVATION_WORKFLOW.taskTimeoutSeconds);
  });
});
