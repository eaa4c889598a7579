/**
 * Lifecycle events on AWS as CloudFormation gets them: the stack's own bus (with an archive), the publisher fed
 * by the table's stream through a mapping filtered to new audit items, with partial batch responses, bisection,
 * bounded retries and a dead-letter queue; PutEvents on that bus only; alarms on dead letters, errors and lag;
 * cdk-nag's AwsSolutions checks clean.
 */
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { AUDIT_INSERT_FILTER, EVENT_SOURCE } from '../../functions/events/lifecycle-events';
import { LifecycleEvents, PUBLISHER_RETRY_ATTEMPTS } from '../../infra/constructs/lifecycle-events';
import { LifecycleTable } from '../../infra/constructs/lifecycle-table';
import { actionsOf, asArray, cdkOutdir, logicalId, removeCdkOutdirs, statementsOfRole, synthContext, validationFindings } from '../support/cdk-template';

function build(nag = false) {
  const app = new App({ outdir: cdkOutdir('lifecycle-events'), context: synthContext() });
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const stack = new Stack(app, 'EventsTest');
  const table = new LifecycleTable(stack, 'Table');
  const events = new LifecycleEvents(stack, 'Events', { table });
  return { app, stack, table, events };
}

afterAll(removeCdkOutdirs);

describe('Class: LifecycleEvents', () => {
  const { stack, table, events } = build();
  const template = Template.fromStack(stack);

  it('should create a bus of its own with an archive of the lifecycle events, and give the publisher its name', () => {
    template.resourceCountIs('AWS::Events::EventBus', 1);
    template.hasResourceProperties('AWS::Events::Archive', { EventPattern: { source: [EVENT_SOURCE] }, RetentionDays: 30 });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: Match.objectLike({ EVENT_BUS_NAME: { Ref: logicalId(stack, events.bus) } }) } });
  });

  it('should read the table stream from its start, filtered to new audit items, with partial batch responses, bisection, bounded retries and a dead-letter queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [logicalId(stack, table.table), 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      BisectBatchOnFunctionError: true,
      ParallelizationFactor: 1,
      MaximumRetryAttempts: PUBLISHER_RETRY_ATTEMPTS,
      MaximumRecordAgeInSeconds: 23 * 3600,
      FilterCriteria: { Filters: [{ Pattern: JSON.stringify(AUDIT_INSERT_FILTER) }] },
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [logicalId(stack, events.deadLetterQueue), 'Arn'] } } },
    });
    expect(JSON.parse(JSON.stringify(AUDIT_INSERT_FILTER))).toEqual({ eventName: ['INSERT'], dynamodb: { NewImage: { type: { S: ['audit'] } } } });
  });

  it('should let the publisher put events on its bus only, and write nothing to the table', () => {
    const statements = statementsOfRole(template, logicalId(stack, events.publisher.role));
    const putEvents = statements.filter((statement) => asArray(statement.Action).includes('events:PutEvents'));
    expect(putEvents).toEqual([expect.objectContaining({ Effect: 'Allow', Action: 'events:PutEvents', Resource: { 'Fn::GetAtt': [logicalId(stack, events.bus), 'Arn'] } })]);
    const actions = actionsOf(statements);
    expect(actions.filter((action) => action.startsWith('dynamodb:')).sort()).toEqual(['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams']);
  });

  it('should alarm on dead letters, publisher errors and an iterator age past 5 minutes', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 0, Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, events.deadLetterQueue), 'QueueName'] } }] });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'Errors', Namespace: 'AWS/Lambda', Threshold: 0 });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Namespace: 'AWS/Lambda', Threshold: 300_000 });
  });

  it('should pass the AwsSolutions checks', () => {
    const { app } = build(true);
    const { findings, synthError } = validationFindings(app);
    expect(findings).toEqual([]);
    expect(synthError).toBeUndefined();
  });
});
