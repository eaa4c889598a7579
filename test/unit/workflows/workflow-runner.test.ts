/** StepFunctionsRunner: the StartExecution request it sends, and how it maps Step Functions' answers. */
import { ExecutionAlreadyExists, InvalidExecutionInput, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { ConfigurationError } from '../../../functions/shared/config';
import { StepFunctionsRunner } from '../../../functions/workflows/workflow-runner';

const ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:TenantLifecycle-PlanChange';
const sfn = mockClient(SFNClient);
const runner = () => new StepFunctionsRunner({ client: new SFNClient({ region: 'us-east-1' }), stateMachineArns: { 'plan-change': ARN } });
const input = { operation: { operationId: 'op_1', tenantId: 'acme', toPlan: 'professional' } };

beforeEach(() => sfn.reset());
afterAll(() => sfn.restore());

describe('Class: StepFunctionsRunner', () => {
  it('should start the execution named after the operation on the workflow’s state machine, with the input as JSON', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: `${ARN}:op_1`, startDate: new Date() });

    await runner().start('plan-change', 'op_1', input);

    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const request = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    expect(request).toEqual({ stateMachineArn: ARN, name: 'op_1', input: expect.any(String) });
    expect(JSON.parse(request?.input as string)).toEqual(input);
  });

  it('should take ExecutionAlreadyExists (the same execution started again) as started', async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));
    await expect(runner().start('plan-change', 'op_1', input)).resolves.toBeUndefined();
  });

  it('should throw any other Step Functions error to the caller', async () => {
    const refused = new InvalidExecutionInput({ message: 'Invalid input', $metadata: {} });
    sfn.on(StartExecutionCommand).rejects(refused);
    await expect(runner().start('plan-change', 'op_1', input)).rejects.toBe(refused);
  });

  it('should refuse a workflow with no state machine configured, sending nothing', async () => {
    const unconfigured = new StepFunctionsRunner({ client: new SFNClient({ region: 'us-east-1' }), stateMachineArns: {} });
    await expect(unconfigured.start('plan-change', 'op_1', input)).rejects.toBeInstanceOf(ConfigurationError);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
  });
});
