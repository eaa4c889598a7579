/**
 * The reactivation ASL as a contract and as it runs: it parses and validates, every target exists, every error it
 * names is one our code throws (or reserved), every step is one the dispatcher knows, the states run Begin →
 * PurgeSources → Bill → Provision → Complete, every top-level working state is caught to FailReactivation, the
 * per-source Map runs one source at a time over Begin's list (never a source name in the file), and the whole
 * execution's TimeoutSeconds is the registry entry's. Executed by aws-local-stepfunctions with scripted Tasks: an
 * empty list (resume, restore, a deleted tenant's fresh start) purges nothing; a fresh start from deleting purges
 * and verifies each source in Begin's order, retrying residual data; a failure at every step goes to
 * FailReactivation with its error and never reaches Complete; a failure reported after Complete (a lost answer)
 * leaves it reactivated. (Against DynamoDB Local, S3 and the fake Stripe server: test/integration/reactivation/.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { BillingTransientError } from '../../functions/billing/billing-port';
import { createDataSources } from '../../functions/data-sources/registry';
import { DataSourceUnavailableError, ResidualDataError } from '../../functions/deletion/hard-delete-steps';
import { ProvisioningTransientError } from '../../functions/provisioning/provisioner';
import { REACTIVATION_WORKFLOW } from '../../functions/reactivation/reactivation-definition';
import * as reactivationSteps from '../../functions/reactivation/reactivation-steps';
import { REACTIVATION_STEPS } from '../../functions/reactivation/reactivation-steps';
import { ASL_RESERVED_ERRORS, StoreContentionError } from '../../functions/workflows/errors';
import { LOCAL_SUBSTITUTIONS, loadDefinition } from '../../infra/local/local-workflow-runner';
import { runScripted, transitionTargets, type AslMachine, type AslState, type ScriptedEvent } from '../support/asl';

const raw = readFileSync(join(__dirname, '..', '..', REACTIVATION_WORKFLOW.asl), 'utf8');
const definition = loadDefinition(REACTIVATION_WORKFLOW.name) as unknown as AslMachine;
const map = definition.States.PurgeSources as AslState;
const inner = map.ItemProcessor as AslMachine;
const allStates = { ...definition.States, ...inner.States };
const ownErrors = new Set(
  ([...Object.values(reactivationSteps), StoreContentionError, BillingTransientError, DataSourceUnavailableError, ResidualDataError, ProvisioningTransientError] as unknown[])
    .filter((value): value is new (message: string) => Error => typeof value === 'function' && /Error$/.test((value as { name: string }).name))
    .map((ErrorClass) => new ErrorClass('probe').name),
);

/** The top-level states from StartAt along each Next (the happy path), as the file orders them. */
function happyPath(machine: AslMachine): string[] {
  const path: string[] = [];
  for (let name: string | undefined = machine.StartAt; name !== undefined && !path.includes(name); name = machine.States[name]?.Next) path.push(name);
  return path;
}

describe('ASL: statemachines/reactivation.asl.json', () => {
  it('should parse and pass the ASL validator with JSONPath and ARN checks', () => {
    expect(() => new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } })).not.toThrow();
  });

  it("should have a substitution for every ${Placeholder}: the registry entry's task function", () => {
    const placeholders = [...raw.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]);
    expect(new Set(placeholders)).toEqual(new Set([REACTIVATION_WORKFLOW.taskFunctionPlaceholder]));
    expect(Object.keys(LOCAL_SUBSTITUTIONS)).toContain(REACTIVATION_WORKFLOW.taskFunctionPlaceholder);
  });

  it("should time the whole execution out at the registry entry's timeoutSeconds, below its stuck threshold", () => {
    expect(definition.TimeoutSeconds).toBe(REACTIVATION_WORKFLOW.timeoutSeconds);
    expect(REACTIVATION_WORKFLOW.stuckAfterSeconds).toBeGreaterThan(REACTIVATION_WORKFLOW.timeoutSeconds);
  });

  it('should point every Next, Default, Choice and Catch at a state of its own machine', () => {
    for (const machine of [definition, inner]) expect(transitionTargets(machine).filter(({ exists }) => !exists)).toEqual([]);
  });

  it('should run Begin, PurgeSources, Bill, Provision, Complete, in that order, to Reactivated', () => {
    expect(happyPath(definition)).toEqual(['Begin', 'PurgeSources', 'Bill', 'Provision', 'Complete', 'Reactivated']);
    expect(definition.States.Reactivated?.Type).toBe('Succeed');
    expect(happyPath(inner)).toEqual(['Purge', 'Verify']);
  });

  it('should only name errors our code throws, or reserved names', () => {
    const names = Object.values(allStates).flatMap((state) => [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((rule) => rule.ErrorEquals));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect({ name, known: ownErrors.has(name) || (ASL_RESERVED_ERRORS as readonly string[]).includes(name) || name === 'Lambda.Unknown' }).toEqual({ name, known: true });
  });

  it('should retry provisioning hiccups in Provision only, and residual data in Verify only', () => {
    const retrying = (error: string) => Object.entries(allStates).filter(([, state]) => (state.Retry ?? []).some((rule) => rule.ErrorEquals.includes(error))).map(([name]) => name);
    expect(retrying('ProvisioningTransientError')).toEqual(['Provision']);
    expect(retrying('ResidualDataError')).toEqual(['Verify']);
    // Every working Task retries contention and transient billing or data-source errors before giving up.
    for (const name of ['Begin', 'Purge', 'Verify', 'Bill', 'Provision', 'Complete']) {
      for (const error of ['StoreContentionError', 'BillingTransientError', 'DataSourceUnavailableError', 'States.Timeout']) expect({ name, error, retried: retrying(error).includes(name) }).toEqual({ name, error, retried: true });
    }
  });

  it('should retry residual data with backoff for about ten minutes', () => {
    const rule = (inner.States.Verify?.Retry ?? []).find((retry) => retry.ErrorEquals.includes('ResidualDataError'));
    const { IntervalSeconds = 1, MaxAttempts = 3, BackoffRate = 2, MaxDelaySeconds = Infinity } = rule ?? {};
    expect(BackoffRate).toBeGreaterThan(1);
    const totalSeconds = Array.from({ length: MaxAttempts }, (_, i) => Math.min(IntervalSeconds * BackoffRate ** i, MaxDelaySeconds)).reduce((a, b) => a + b, 0);
    expect(totalSeconds).toBeGreaterThanOrEqual(300);
    expect(totalSeconds).toBeLessThan(3600);
  });

  it('should name every step the dispatcher knows, and no other; and never a data source', () => {
    const steps = Object.values(allStates).filter((state) => state.Type === 'Task').map((state) => state.Parameters?.step);
    expect(new Set(steps)).toEqual(new Set(REACTIVATION_STEPS));
    const names = createDataSources({ client: {} as never, tableName: 't', documents: { bucket: 'b' }, s3: () => ({}) as never, vectorStore: {} as never, billing: {} as never }).map((source) => source.name);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect({ name, named: raw.includes(`"${name}"`) }).toEqual({ name, named: false });
  });

  it('should purge one source at a time, in the order Begin answers', () => {
    expect(map.ItemsPath).toBe('$.begin.sources');
    expect(map.MaxConcurrency).toBe(1);
  });

  it('should catch every failure of every top-level working state and send it to FailReactivation', () => {
    const caught = Object.entries(definition.States).filter(([name, state]) => (state.Type === 'Task' || state.Type === 'Map') && name !== 'FailReactivation');
    expect(caught.map(([name]) => name)).toEqual(['Begin', 'PurgeSources', 'Bill', 'Provision', 'Complete']);
    for (const [name, state] of caught) {
      expect({ name, catches: state.Catch?.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === 'FailReactivation') }).toEqual({ name, catches: true });
    }
  });

  it('should retry the compensation on any error, and not catch it (an undo that cannot run fails the execution, for the "execution ended badly" rule)', () => {
    const fail = definition.States.FailReactivation as AslState;
    expect(fail.Retry?.some((rule) => rule.ErrorEquals.includes('States.ALL') && (rule.MaxAttempts ?? 3) > 0)).toBe(true);
    expect(fail.Catch).toBeUndefined();
    expect(fail.Next).toBe('AfterFailure');
  });
});

describe('ASL: statemachines/reactivation.asl.json executed', () => {
  type Event = ScriptedEvent;
  const tasks = ['Begin', 'Purge', 'Verify', 'Bill', 'Provision', 'Complete', 'FailReactivation'];
  const operation = { operationId: 'op', tenantId: 'acme', path: 'fresh_start', origin: 'deleting', plan: 'starter' };
  const run = (script: (event: Event) => unknown) => runScripted(definition, tasks, { operation }, script);

  function failing(name: string, message = 'scripted'): Error {
    return Object.assign(new Error(message), { name });
  }

  const freshStart = (event: Event) => (event.step === 'begin' ? { sources: ['vectors', 'documents', 'tenant'] } : event.step === 'fail' ? { outcome: 'rolled_back' } : { outcome: 'succeeded' });

  it('should go straight from Begin to Bill when Begin lists no source (resume, restore, a deleted tenant): an empty Map purges nothing', async () => {
    const { calls, error } = await run((event) => (event.step === 'begin' ? { sources: [] } : { outcome: 'succeeded' }));
    expect(error).toBeUndefined();
    expect(calls).toEqual(['begin', 'bill', 'provision', 'complete']);
  });

  it('should purge and verify each source in the order Begin answers, one at a time, then bill, provision and complete', async () => {
    const { calls, error } = await run(freshStart);
    expect(error).toBeUndefined();
    expect(calls).toEqual(['begin', 'purge:vectors', 'verify:vectors', 'purge:documents', 'verify:documents', 'purge:tenant', 'verify:tenant', 'bill', 'provision', 'complete']);
  });

  it('should retry a source that reports residual data until it is empty', async () => {
    let residual = 2;
    const { calls, error } = await run((event) => {
      if (event.step === 'verify' && event.source === 'vectors' && residual-- > 0) throw failing('ResidualDataError');
      return freshStart(event);
    });
    expect(error).toBeUndefined();
    expect(calls.filter((call) => call === 'verify:vectors')).toHaveLength(3);
    expect(calls.at(-1)).toBe('complete');
  });

  // A permanent error (no retrier names it) at each step: caught to FailReactivation, with the error, never Complete.
  it.each([
    ['begin', 'begin'],
    ['purge', 'purge:documents'],
    ['verify', 'verify:documents'],
    ['bill', 'bill'],
    ['provision', 'provision'],
    ['complete', 'complete'],
  ])('should send a failure of %s to FailReactivation with its error, and end ReactivationFailed with nothing after it run', async (step, at) => {
    const { calls, error } = await run((event) => {
      const here = event.source ? `${event.step}:${event.source}` : event.step;
      if (here === at) throw failing('BillingRejectedError', `${step} refused`);
      return freshStart(event);
    });
    expect(error).toBeInstanceOf(ExecutionError);
    expect(((error as ExecutionError).cause as Error | undefined)?.name).toBe('ReactivationFailed');
    expect(calls.at(-1)).toBe('fail:BillingRejectedError');
    expect(calls.filter((call) => call.startsWith('fail'))).toHaveLength(1);
    // Everything up to the failing step ran in order, nothing after it did. aws-local-stepfunctions may still start
    // the next iteration of a Map whose iteration failed (Step Functions stops them): a later source's purge is
    // the only extra call allowed, never its verification.
    const order = ['begin', 'purge:vectors', 'verify:vectors', 'purge:documents', 'verify:documents', 'purge:tenant', 'verify:tenant', 'bill', 'provision', 'complete'];
    const ran = calls.slice(0, -1);
    expect(ran.slice(0, order.indexOf(at) + 1)).toEqual(order.slice(0, order.indexOf(at) + 1));
    const after = ran.slice(order.indexOf(at) + 1);
    expect(after.filter((call) => !(call === 'purge:tenant' && at.includes(':documents')))).toEqual([]);
  });

  it('should fail the reactivation when residual data never goes, without billing', async () => {
    const { calls, error } = await run((event) => {
      if (event.step === 'verify' && event.source === 'vectors') throw failing('ResidualDataError');
      return freshStart(event);
    });
    expect(((error as ExecutionError).cause as Error | undefined)?.name).toBe('ReactivationFailed');
    expect(calls.filter((call) => call === 'verify:vectors')).toHaveLength(8);
    expect(calls.filter((call) => call.startsWith('fail'))).toEqual(['fail:ResidualDataError']);
    // aws-local-stepfunctions goes on starting the Map's later iterations (Step Functions stops them): only what
    // comes after the Map is asserted absent here.
    for (const step of ['bill', 'provision', 'complete']) expect(calls).not.toContain(step);
  });

  it('should retry a transient provisioning error, then go on', async () => {
    let transient = 2;
    const { calls, error } = await run((event) => {
      if (event.step === 'provision' && transient-- > 0) throw failing('ProvisioningTransientError');
      return freshStart(event);
    });
    expect(error).toBeUndefined();
    expect(calls.filter((call) => call === 'provision')).toHaveLength(3);
  });

  it('should end reactivated when the compensation finds the reactivation already complete (a lost answer of Complete)', async () => {
    const { calls, error } = await run((event) => {
      if (event.step === 'complete') throw failing('BillingRejectedError', 'answer lost');
      return event.step === 'fail' ? { outcome: 'succeeded' } : freshStart(event);
    });
    expect(error).toBeUndefined();
    expect(calls.slice(-2)).toEqual(['complete', 'fail:BillingRejectedError']);
  });

  it('should retry the compensation itself until it runs', async () => {
    let failures = 2;
    const { calls, error } = await run((event) => {
      if (event.step === 'bill') throw failing('BillingRejectedError');
      if (event.step === 'fail' && failures-- > 0) throw failing('StoreContentionError');
      return freshStart(event);
    });
    expect(((error as ExecutionError).cause as Error | undefined)?.name).toBe('ReactivationFailed');
    expect(calls.filter((call) => call.startsWith('fail'))).toHaveLength(3);
  });
});
