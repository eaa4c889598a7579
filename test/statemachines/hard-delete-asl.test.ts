/**
 * The hard-delete ASL as a contract and as it runs: it parses and validates, every target exists, every error
 * it names is one our code throws (or reserved), every step is one the dispatcher knows, every working state is
 * caught to FailHardDelete, the per-source Map runs one source at a time over Begin's list (never a source
 * name in the file); executed by aws-local-stepfunctions with scripted Tasks: residual data is retried until the
 * source is empty, residual data that never goes fails the run through FailHardDelete without Complete, and a
 * Begin that stops purges nothing. (Against DynamoDB Local and S3: test/integration/deletion/hard-delete.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { BillingTransientError } from '../../functions/billing/billing-port';
import { createDataSources } from '../../functions/data-sources/registry';
import * as hardDeleteSteps from '../../functions/deletion/hard-delete-steps';
import { HARD_DELETE_STEPS } from '../../functions/deletion/hard-delete-steps';
import { ASL_RESERVED_ERRORS, StoreContentionError } from '../../functions/workflows/errors';
import { LOCAL_SUBSTITUTIONS, loadDefinition } from '../../infra/local/local-workflow-runner';
import { runScripted, transitionTargets, type AslMachine, type AslState, type ScriptedEvent } from '../support/asl';

const raw = readFileSync(join(__dirname, '..', '..', 'statemachines', 'hard-delete.asl.json'), 'utf8');
const definition = loadDefinition('hard-delete') as unknown as AslMachine;
const map = definition.States.PurgeSources as AslState;
const inner = map.ItemProcessor as AslMachine;
const allStates = { ...definition.States, ...inner.States };
const ownErrors = new Set(
  ([...Object.values(hardDeleteSteps), StoreContentionError, BillingTransientError] as unknown[])
    .filter((value): value is new (message: string) => Error => typeof value === 'function' && /Error$/.test((value as { name: string }).name))
    .map((ErrorClass) => new ErrorClass('probe').name),
);

describe('ASL: statemachines/hard-delete.asl.json', () => {
  it('should parse and pass the ASL validator with JSONPath and ARN checks', () => {
    expect(() => new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } })).not.toThrow();
  });

  it('should have a substitution for every ${Placeholder}', () => {
    const placeholders = [...raw.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]);
    expect(new Set(placeholders)).toEqual(new Set(['HardDeleteTaskFunctionArn']));
    expect(Object.keys(LOCAL_SUBSTITUTIONS)).toContain('HardDeleteTaskFunctionArn');
  });

  it('should point every Next, Default, Choice and Catch at a state of its own machine', () => {
    for (const machine of [definition, inner]) expect(transitionTargets(machine).filter(({ exists }) => !exists)).toEqual([]);
  });

  it('should only name errors our code throws, or reserved names', () => {
    const names = Object.values(allStates).flatMap((state) => [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((rule) => rule.ErrorEquals));
    for (const name of names) expect({ name, known: ownErrors.has(name) || (ASL_RESERVED_ERRORS as readonly string[]).includes(name) || name === 'Lambda.Unknown' }).toEqual({ name, known: true });
  });

  it('should name every step the dispatcher knows, and no other; and never a data source', () => {
    const steps = Object.values(allStates).filter((state) => state.Type === 'Task').map((state) => state.Parameters?.step);
    expect(new Set(steps)).toEqual(new Set(HARD_DELETE_STEPS));
    const names = createDataSources({ client: {} as never, tableName: 't', documents: { bucket: 'b' }, s3: () => ({}) as never, vectorStore: {} as never, billing: {} as never }).map((source) => source.name);
    for (const name of names) expect({ name, named: raw.includes(`"${name}"`) }).toEqual({ name, named: false });
  });

  it('should purge one source at a time, in the order Begin answers', () => {
    expect(map.ItemsPath).toBe('$.begin.sources');
    expect(map.MaxConcurrency).toBe(1);
  });

  it('should retry residual data with backoff for about ten minutes, and only in Verify', () => {
    const retried = Object.entries(allStates).flatMap(([name, state]) => (state.Retry ?? []).filter((rule) => rule.ErrorEquals.includes('ResidualDataError')).map((rule) => ({ name, rule })));
    expect(retried.map(({ name }) => name)).toEqual(['Verify']);
    const { IntervalSeconds = 1, MaxAttempts = 3, BackoffRate = 2 } = retried[0]?.rule ?? {};
    expect(BackoffRate).toBeGreaterThan(1);
    const totalSeconds = Array.from({ length: MaxAttempts }, (_, i) => IntervalSeconds * BackoffRate ** i).reduce((a, b) => a + b, 0);
    expect(totalSeconds).toBeGreaterThanOrEqual(300);
    expect(totalSeconds).toBeLessThan(3600);
  });

  it('should catch every failure of every top-level working state and send it to FailHardDelete', () => {
    const caught = Object.entries(definition.States).filter(([name, state]) => (state.Type === 'Task' || state.Type === 'Map') && name !== 'FailHardDelete');
    expect(caught.map(([name]) => name)).toEqual(['Begin', 'PurgeSources', 'DeleteBillingCustomer', 'Complete']);
    for (const [name, state] of caught) {
      expect({ name, catches: state.Catch?.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === 'FailHardDelete') }).toEqual({ name, catches: true });
    }
  });
});

describe('ASL: statemachines/hard-delete.asl.json executed', () => {
  type Event = ScriptedEvent;
  const tasks = ['Begin', 'Purge', 'Verify', 'DeleteBillingCustomer', 'Complete', 'FailHardDelete'];

  /** Run with scripted Tasks; answers the steps called in order and how the execution ended. */
  const run = (script: (event: Event) => unknown) => runScripted(definition, tasks, { operation: { operationId: 'op', tenantId: 'acme' } }, script);

  function residual(name: string): Error {
    return Object.assign(new Error(`'${name}' still holds records`), { name: 'ResidualDataError' });
  }

  it('should retry a source that reports residual data until it is empty, then go on to Complete', async () => {
    let verifies = 0;
    const { calls, error } = await run((event) => {
      if (event.step === 'begin') return { proceed: true, sources: ['vectors', 'tenant'] };
      if (event.step === 'verify' && event.source === 'vectors' && ++verifies <= 3) throw residual('vectors');
      return { outcome: 'succeeded' };
    });
    expect(error).toBeUndefined();
    expect(calls).toEqual(['begin', 'purge:vectors', 'verify:vectors', 'verify:vectors', 'verify:vectors', 'verify:vectors', 'purge:tenant', 'verify:tenant', 'deleteBillingCustomer', 'complete']);
  });

  it('should fail through FailHardDelete, never reaching Complete, when residual data never goes', async () => {
    const { calls, error } = await run((event) => {
      if (event.step === 'begin') return { proceed: true, sources: ['vectors', 'tenant'] };
      if (event.step === 'verify') throw residual(event.source as string);
      return { outcome: 'failed' };
    });
    expect(error).toBeInstanceOf(ExecutionError);
    expect(((error as ExecutionError).cause as Error | undefined)?.name).toBe('HardDeleteFailed');
    expect(calls.filter((call) => call === 'verify:vectors')).toHaveLength(8);
    expect(calls.at(-1)).toBe('fail:ResidualDataError');
    expect(calls).not.toContain('complete');
    expect(calls).not.toContain('deleteBillingCustomer');
    // aws-local-stepfunctions may still start the next iteration of a Map whose iteration failed (Step Functions
    // stops them); the purge step itself refuses to purge a source before the ones ahead of it were verified.
    expect(calls).not.toContain('verify:tenant');
  });

  it('should purge nothing when Begin stops (early, held, already deleted)', async () => {
    const { calls, error } = await run(() => ({ proceed: false, sources: [], stopped: 'window_not_open' }));
    expect(error).toBeUndefined();
    expect(calls).toEqual(['begin']);
  });
});
