/**
 * The plan-change ASL as a contract: it parses and validates, every transition target exists, every error
 * name it retries or catches is one our code throws (or a States.* name), every Task can reach the
 * compensation, and every placeholder has a substitution.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import * as planChangeErrors from '../../functions/plan-change/errors';
import { ASL_RESERVED_ERRORS } from '../../functions/plan-change/errors';
import { PLAN_CHANGE_STEPS } from '../../functions/plan-change/plan-change-steps';
import { LOCAL_SUBSTITUTIONS, loadDefinition } from '../../infra/local/local-workflow-runner';

interface AslState {
  Type: string;
  Next?: string;
  Default?: string;
  End?: boolean;
  Choices?: Array<{ Next: string }>;
  Retry?: Array<{ ErrorEquals: string[] }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Parameters?: { step?: string };
}

const FILE = join(__dirname, '..', '..', 'statemachines', 'plan-change.asl.json');
const raw = readFileSync(FILE, 'utf8');
const definition = loadDefinition('plan-change') as { StartAt: string; States: Record<string, AslState>; TimeoutSeconds?: number };
const states = definition.States;
const exportedErrorNames = new Set(
  (Object.values(planChangeErrors) as unknown[])
    .filter((value): value is new (message: string) => Error => typeof value === 'function')
    .map((ErrorClass) => new ErrorClass('probe').name),
);

describe('ASL: statemachines/plan-change.asl.json', () => {
  it('should parse and pass the ASL validator with JSONPath and ARN checks', () => {
    expect(() => new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } })).not.toThrow();
  });

  it('should have a substitution for every ${Placeholder}, and no other placeholder syntax', () => {
    const placeholders = [...raw.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]);
    expect(placeholders.length).toBeGreaterThan(0);
    for (const name of placeholders) expect(Object.keys(LOCAL_SUBSTITUTIONS)).toContain(name);
    expect(JSON.stringify(definition)).not.toMatch(/\$\{/);
  });

  it('should point every Next, Default, Choice and Catch at a state that exists', () => {
    const targets = Object.values(states).flatMap((state) => [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)]);
    expect(Object.keys(states)).toContain(definition.StartAt);
    for (const target of targets.filter((t): t is string => t !== undefined)) expect(Object.keys(states)).toContain(target);
  });

  it('should only name errors our code exports, or the States language reserved names', () => {
    const names = Object.values(states).flatMap((state) => [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((rule) => rule.ErrorEquals));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      expect({ name, known: exportedErrorNames.has(name) || (ASL_RESERVED_ERRORS as readonly string[]).includes(name) }).toEqual({ name, known: true });
    }
    // The retried names really are the ones the steps throw.
    for (const name of ['QueriesStillRunningError', 'BillingTransientError', 'ProvisioningTransientError']) expect(exportedErrorNames.has(name)).toBe(true);
  });

  it('should catch every failure of every working Task and send it to Compensate', () => {
    const tasks = Object.entries(states).filter(([name, state]) => state.Type === 'Task' && name !== 'Compensate');
    expect(tasks.length).toBe(5);
    for (const [name, state] of tasks) {
      expect({ name, catches: state.Catch?.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === 'Compensate') }).toEqual({ name, catches: true });
    }
  });

  it('should name only steps the task handler knows', () => {
    const steps = Object.values(states).filter((state) => state.Type === 'Task').map((state) => state.Parameters?.step);
    for (const step of steps) expect(PLAN_CHANGE_STEPS).toContain(step);
    expect(new Set(steps)).toEqual(new Set(PLAN_CHANGE_STEPS));
  });

  it('should bound the whole execution with a timeout', () => {
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
  });
});
