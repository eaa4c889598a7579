/**
 * Shared by the ASL contract tests (test/statemachines/): the state shapes they read, the transition-target check,
 * and a run of a definition by aws-local-stepfunctions with scripted Task handlers (no retry waits).
 */
import { StateMachine } from 'aws-local-stepfunctions';

export interface AslRetry {
  ErrorEquals: string[];
  IntervalSeconds?: number;
  MaxAttempts?: number;
  BackoffRate?: number;
  MaxDelaySeconds?: number;
}
export interface AslState {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: Array<{ Next: string }>;
  Retry?: AslRetry[];
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Parameters?: { step?: string };
  ItemsPath?: string;
  MaxConcurrency?: number;
  ItemProcessor?: AslMachine;
}
export interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
}

/** Every Next, Default, Choice and Catch target of `machine` paired with whether it is a state of that machine (StartAt too). */
export function transitionTargets(machine: AslMachine): Array<{ target: string; exists: boolean }> {
  const names = Object.keys(machine.States);
  const targets = [machine.StartAt, ...Object.values(machine.States).flatMap((state) => [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)])];
  return targets.filter((t): t is string => t !== undefined).map((target) => ({ target, exists: names.includes(target) }));
}

/** What a scripted Task was handed: its step, the source of a per-source state, the failure a compensation got. */
export type ScriptedEvent = { step: string; source?: string; failure?: { Error: string; Cause?: string } };

/**
 * Run `definition` with every state of `tasks` answered by `script`; answers the calls in order (`step`,
 * `step:source` or `step:Error` for a compensation) and the execution's output or error.
 */
export async function runScripted(definition: AslMachine, tasks: readonly string[], input: unknown, script: (event: ScriptedEvent) => unknown): Promise<{ calls: string[]; output?: unknown; error?: unknown }> {
  const calls: string[] = [];
  const handlers = Object.fromEntries(
    tasks.map((state) => [
      state,
      async (event: ScriptedEvent) => {
        calls.push(event.source ? `${event.step}:${event.source}` : event.failure ? `${event.step}:${event.failure.Error}` : event.step);
        return script(event);
      },
    ]),
  );
  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
  const execution = machine.run(input as never, {
    overrides: { taskResourceLocalHandlers: handlers as never, retryIntervalOverrides: Object.fromEntries(tasks.map((state) => [state, 0])) },
  });
  try {
    return { calls, output: await execution.result };
  } catch (error) {
    return { calls, error };
  }
}
