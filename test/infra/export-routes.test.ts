/**
 * The export routes' grants, least privilege: StartExport may start executions of the export state machine
 * and nothing else on it (and no S3); GetExport signs download URLs, so its role may GetObject under
 * `exports/` of the export bucket and nothing more (no write, no list, no other bucket), with the bucket and
 * retention in its environment. The other routes get none of this.
 */
import { Template } from 'aws-cdk-lib/assertions';
import { ROUTES } from '../../functions/api/routes';
import { EXPORT_WORKFLOW } from '../../functions/export/export-definition';
import { buildApp } from '../../infra/app';
import { GET_EXPORT_ROUTE_ID, START_EXPORT_ROUTE_ID, type TenantLifecycleStack } from '../../infra/tenant-lifecycle-stack';
import { actionsOf, cdkOutdir, logicalId, removeCdkOutdirs, statementsOfRole, synthContext, variablesOf } from '../support/cdk-template';

let stack: TenantLifecycleStack;
let template: Template;
beforeAll(() => {
  ({ stack } = buildApp({ outdir: cdkOutdir('export-routes'), nag: false, context: synthContext() }));
  template = Template.fromStack(stack);
});
afterAll(() => removeCdkOutdirs());

const statementsOfRoute = (routeId: string) => statementsOfRole(template, logicalId(stack, stack.api.routeFunction(routeId).role));

describe('Export routes: least-privilege grants', () => {
  it('should let StartExport start the export state machine only, with its ARN in the environment, and reach no S3', () => {
    const exportMachine = stack.workflows.get(EXPORT_WORKFLOW.name)!;
    const machineRef = { Ref: logicalId(stack, exportMachine.stateMachine) };

    const statements = statementsOfRoute(START_EXPORT_ROUTE_ID);

    expect(statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('states:')))).toEqual([
      expect.objectContaining({ Action: 'states:StartExecution', Effect: 'Allow', Resource: machineRef }),
    ]);
    expect(actionsOf(statements).filter((action) => action.startsWith('s3:'))).toEqual([]);
    expect(variablesOf(template, logicalId(stack, stack.api.routeFunction(START_EXPORT_ROUTE_ID).function))).toMatchObject({ EXPORT_STATE_MACHINE_ARN: machineRef });
  });

  it('should let GetExport read objects under exports/ of the export bucket only, to sign download URLs', () => {
    const bucketArn = { 'Fn::GetAtt': [logicalId(stack, stack.exports.bucket), 'Arn'] };

    const statements = statementsOfRoute(GET_EXPORT_ROUTE_ID);

    expect(statements.filter((statement) => actionsOf([statement]).some((action) => action.startsWith('s3:')))).toEqual([
      expect.objectContaining({ Action: 's3:GetObject', Effect: 'Allow', Resource: { 'Fn::Join': ['', [bucketArn, '/exports/*']] } }),
    ]);
    expect(actionsOf(statements).filter((action) => action.startsWith('states:'))).toEqual([]);
    expect(variablesOf(template, logicalId(stack, stack.api.routeFunction(GET_EXPORT_ROUTE_ID).function))).toMatchObject({
      EXPORTS_BUCKET: { Ref: logicalId(stack, stack.exports.bucket) },
      EXPORT_RETENTION_DAYS: String(stack.exports.retentionDays),
    });
  });

  it.each(ROUTES.filter((route) => ![START_EXPORT_ROUTE_ID, GET_EXPORT_ROUTE_ID].includes(route.id)).map((route) => route.id))('should give route %s nothing on the export bucket or the export state machine', (routeId) => {
    const statements = JSON.stringify(statementsOfRoute(routeId));
    expect(statements).not.toContain(logicalId(stack, stack.exports.bucket));
    expect(statements).not.toContain(logicalId(stack, stack.workflows.get(EXPORT_WORKFLOW.name)!.stateMachine));
  });
});
