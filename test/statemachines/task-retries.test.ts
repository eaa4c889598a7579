/**
 * Every Task of every workflow retries the same list of transient Lambda invoke errors, the one list in
 * functions/workflows/lambda-invoke-errors.ts: a Task that retried fewer would roll a plan change back on a
 * Lambda hiccup (for example `Lambda.ClientExecutionTimeoutException`) instead of retrying it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TRANSIENT_LAMBDA_INVOKE_ERRORS } from '../../functions/workflows/lambda-invoke-errors';

interface AslState {
  Type: string;
  Retry?: Array<{ ErrorEquals: string[] }>;
  Branches?: AslMachine[];
  Iterator?: AslMachine;
  ItemProcessor?: AslMachine;
}
interface AslMachine {
  States: Record<string, AslState>;
}

const STATEMACHINES = join(__dirname, '..', '..', 'statemachines');
const FILES = readdirSync(STATEMACHINES).filter((name) => name.endsWith('.asl.json'));

/** Every Task of `machine`, including those inside Parallel branches and Map processors, with its path. */
function tasksOf(machine: AslMachine, path: string): Array<[string, AslState]> {
  return Object.entries(machine.States).flatMap(([name, state]) => {
    const here = `${path}/${name}`;
    const nested = [...(state.Branches ?? []), ...(state.Iterator ? [state.Iterator] : []), ...(state.ItemProcessor ? [state.ItemProcessor] : [])];
    return [...(state.Type === 'Task' ? [[here, state] as [string, AslState]] : []), ...nested.flatMap((child, index) => tasksOf(child, `${here}[${index}]`))];
  });
}

describe('ASL: every Task of every statemachines/*.asl.json', () => {
  it('should find the workflows and their Tasks', () => {
    expect(FILES).toContain('plan-change.asl.json');
  });

  it.each(FILES)('should retry exactly the transient Lambda invoke errors, in one retrier, in every Task of %s', (file) => {
    const machine = JSON.parse(readFileSync(join(STATEMACHINES, file), 'utf8')) as AslMachine;
    const tasks = tasksOf(machine, file);
    expect(tasks.length).toBeGreaterThan(0);
    for (const [path, task] of tasks) {
      const retriers = task.Retry ?? [];
      // `Lambda.Unknown` (a crash, out of memory, the function's timeout) is decided per step (lambda-invoke-errors.ts).
      const lambdaRetriers = retriers.filter((retrier) => retrier.ErrorEquals.some((name) => name.startsWith('Lambda.') && name !== 'Lambda.Unknown'));
      expect({ path, lambdaRetriers: lambdaRetriers.map((retrier) => [...retrier.ErrorEquals].sort()) }).toEqual({ path, lambdaRetriers: [[...TRANSIENT_LAMBDA_INVOKE_ERRORS].sort()] });
    }
  });

  it('should nest: a Task inside a Parallel branch or a Map is found too', () => {
    const machine: AslMachine = {
      States: {
        Fan: { Type: 'Parallel', Branches: [{ States: { Inner: { Type: 'Task' } } }] },
        Each: { Type: 'Map', ItemProcessor: { States: { PerItem: { Type: 'Task' } } } },
      },
    };
    expect(tasksOf(machine, 'm').map(([path]) => path)).toEqual(['m/Fan[0]/Inner', 'm/Each[0]/PerItem']);
  });
});
