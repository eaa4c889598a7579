/**
 * Every failure that can end a plan change is worded for the tenant's history: the message we wrote for a
 * known error, a description for a provider's or the runtime's, and never the internals of an unexpected one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as planChangeErrors from '../../../functions/plan-change/errors';
import { readableFailure } from '../../../functions/plan-change/plan-change-steps';
import { ConfigurationError } from '../../../functions/shared/config';
import { SchedulerTransientError } from '../../../functions/scheduler/scheduler-port';
import { OperationEndedError } from '../../../functions/operations/operation-store';

const UNEXPECTED = /an unexpected error/;
/** What Lambda hands a Catch: the JSON of the error, with its stack. */
function lambdaCause(error: Error): string {
  return JSON.stringify({ errorType: error.name, errorMessage: error.message, trace: (error.stack ?? '').split('\n') });
}

/** Every error name the ASL retries or catches (but States.ALL), from the file itself. */
function aslErrorNames(): string[] {
  const asl = readFileSync(join(__dirname, '..', '..', '..', 'statemachines', 'plan-change.asl.json'), 'utf8');
  const names = [...asl.matchAll(/"ErrorEquals"\s*:\s*\[([^\]]*)\]/g)].flatMap((match) => [...(match[1] as string).matchAll(/"([^"]+)"/g)].map((m) => m[1] as string));
  return [...new Set(names)].filter((name) => name !== 'States.ALL');
}

/** Every error class the workflow's steps throw, by name. */
const THROWN = [
  ...(Object.values(planChangeErrors) as unknown[])
    .filter((value): value is new (message: string) => Error => typeof value === 'function' && value.prototype instanceof Error)
    .map((ErrorClass) => new ErrorClass('probe')),
  new ConfigurationError('probe'),
  new SchedulerTransientError('probe'),
  new OperationEndedError('op_1', 'rolled_back'),
];

/** The failures the compensation is handed without a thrown error: timeouts, the sweeper, a failed start, cancellations. */
const HANDED = ['States.Timeout', 'ExecutionAborted', 'ExecutionFailed', 'OperationStuck', 'WorkflowStartFailed', 'CancelledByRequest', 'USAGE_EXCEEDS_PLAN', 'TenantNotActive', 'ScheduledChangeMissing'];

describe('readableFailure: the cause of a rollback or cancellation in the history', () => {
  it.each([...new Set([...aslErrorNames(), ...THROWN.map((error) => error.name), ...HANDED])])('should word %s', (name) => {
    const text = readableFailure({ Error: name, Cause: 'probe' });
    expect(text).not.toMatch(UNEXPECTED);
    expect(text.trim()).not.toBe('');
  });

  it('should keep the drain timeout message we wrote, from the Lambda error JSON, without its stack', () => {
    const error = new planChangeErrors.DrainTimeoutError('2 in-flight queries still hold leases after the drain timeout of 30 s (holders: report); the plan change was not started so no query is interrupted.');
    const text = readableFailure({ Error: error.name, Cause: lambdaCause(error) });
    expect(text).toBe('2 in-flight queries still hold leases after the drain timeout of 30 s (holders: report); the plan change was not started so no query is interrupted');
  });

  it("should describe a provider's failure without its message (which may carry internals)", () => {
    const text = readableFailure({ Error: 'BillingTransientError', Cause: lambdaCause(new planChangeErrors.BillingTransientError('Stripe 500 req_abc123 at https://api.stripe.com/v1/subscriptions')) });
    expect(text).toMatch(/billing provider/);
    expect(text).not.toMatch(/req_abc123|stripe\.com/);
  });

  it("should name an unexpected error but never show its message or stack", () => {
    const error = new TypeError("Cannot read properties of undefined (reading 'resources')");
    const text = readableFailure({ Error: error.name, Cause: lambdaCause(error) });
    expect(text).toMatch(/unexpected error \(TypeError\)/);
    expect(text).not.toMatch(/resources|Cannot read|at .*\.ts/);
  });
});
