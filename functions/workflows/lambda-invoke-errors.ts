/**
 * The transient errors of invoking a Lambda function from a Step Functions Task: Lambda's service failing to run
 * the invocation, not the function failing. Step Functions reports them as `Lambda.<Exception>`; a retry with
 * backoff fixes them. Source: AWS Step Functions Developer Guide, "Handle transient Lambda service exceptions"
 * (https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html): invoking Lambda can
 * answer a 500 such as `ClientExecutionTimeoutException`, `ServiceException`, `AWSLambdaException` or
 * `SdkClientException`, and `TooManyRequestsException` when Lambda hits its invocation limit. (The CDK's
 * `LambdaInvoke` retries the first four by default; the throttle is added here.)
 *
 * Every Task of every `statemachines/*.asl.json` retries exactly this list, in one retrier; the ASL files keep it
 * literally (plain JSON that Step Functions, the CDK construct and aws-local-stepfunctions read as is) and
 * test/statemachines/task-retries.test.ts holds each Task to it. Errors the function throws itself
 * (`Lambda.Unknown` for a crash or a function timeout, or our named errors) are not in it: they are decided per step.
 */
export const TRANSIENT_LAMBDA_INVOKE_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;
