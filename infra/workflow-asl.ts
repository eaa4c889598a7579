/**
 * A workflow's ASL file, read and checked once for both of its users: the CDK construct (which hands the text
 * and the substitutions to Step Functions) and the local runner (which fills the placeholders itself and runs
 * the definition in-process). Read from the repository, never the working directory.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { WorkflowDefinition } from '../functions/workflows/workflow-definition';

/** The repository root, from this file's location. */
const REPO_ROOT = path.resolve(__dirname, '..');

/** Every `${Name}` placeholder of an ASL text, each name once. */
export function aslPlaceholders(asl: string): string[] {
  return [...new Set([...asl.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1] as string))];
}

/** The absolute path of a workflow's ASL file. */
export function aslPath(definition: Pick<WorkflowDefinition, 'asl'>): string {
  return path.join(REPO_ROOT, definition.asl);
}

export interface WorkflowAsl {
  /** The file, absolute. */
  readonly path: string;
  /** The file's text, placeholders as they are. */
  readonly text: string;
  /** The top-level TimeoutSeconds: the execution's limit. */
  readonly timeoutSeconds: number;
}

/**
 * Read `definition`'s ASL and check it: a top-level TimeoutSeconds (a whole number of seconds above 0: without
 * one a stuck execution holds its tenant for a year) and no placeholder outside `substitutions`' names (a Task
 * with no function). Throws an Error naming the file and what is wrong.
 */
export function readWorkflowAsl(definition: Pick<WorkflowDefinition, 'asl'>, substitutions: Readonly<Record<string, string>>): WorkflowAsl {
  const file = aslPath(definition);
  const text = readFileSync(file, 'utf8');
  const timeoutSeconds = (JSON.parse(text) as { TimeoutSeconds?: unknown }).TimeoutSeconds;
  if (typeof timeoutSeconds !== 'number' || !Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new Error(`${file} must set a top-level TimeoutSeconds: without one a stuck execution holds the tenant for a year.`);
  }
  const unfilled = aslPlaceholders(text).filter((name) => !Object.hasOwn(substitutions, name));
  if (unfilled.length > 0) throw new Error(`${file} has placeholders the stack does not fill: ${unfilled.join(', ')}.`);
  return { path: file, text, timeoutSeconds };
}

/** The definition with every `${Placeholder}` replaced by its substitution (readWorkflowAsl's checks first). */
export function filledDefinition(definition: Pick<WorkflowDefinition, 'asl'>, substitutions: Readonly<Record<string, string>>): Record<string, unknown> {
  const { text } = readWorkflowAsl(definition, substitutions);
  return JSON.parse(text.replace(/\$\{(\w+)\}/g, (_match, name: string) => substitutions[name] as string)) as Record<string, unknown>;
}

/** A Task state of an ASL definition, nested ones (Map item processors, Parallel branches) included. */
export interface AslTask {
  readonly name: string;
  /** The state's TimeoutSeconds; undefined when it sets none (or sets TimeoutSecondsPath). */
  readonly timeoutSeconds: number | undefined;
}

/** Every Task state of `asl` (parsed ASL JSON), at any depth. */
export function aslTasks(asl: unknown): AslTask[] {
  const states = (asl as { States?: Record<string, Record<string, unknown>> } | undefined)?.States ?? {};
  return Object.entries(states).flatMap(([name, state]) => [
    ...(state.Type === 'Task' ? [{ name, timeoutSeconds: typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined }] : []),
    ...aslTasks(state.ItemProcessor ?? state.Iterator),
    ...((state.Branches as unknown[] | undefined) ?? []).flatMap(aslTasks),
  ]);
}

/** Lambda's largest function timeout, seconds (Lambda quotas: "Function timeout", 900 seconds). */
export const LAMBDA_MAX_TIMEOUT_SECONDS = 900;

/**
 * Check that `definition.taskTimeoutSeconds` fits Lambda (at most 900 s) and stays above every Task state's
 * TimeoutSeconds: the state machine's States.Timeout, which the ASL retries, must fire before Lambda ends the
 * invocation (which Step Functions would only see as Lambda.Unknown). Throws an Error naming the file and state.
 */
export function checkTaskTimeouts(definition: Pick<WorkflowDefinition, 'asl' | 'name' | 'taskTimeoutSeconds'>, asl: WorkflowAsl): void {
  const limit = definition.taskTimeoutSeconds;
  if (!Number.isInteger(limit) || limit < 1 || limit > LAMBDA_MAX_TIMEOUT_SECONDS) {
    throw new Error(`Workflow '${definition.name}': taskTimeoutSeconds must be a whole number of seconds from 1 to ${LAMBDA_MAX_TIMEOUT_SECONDS} (Lambda's maximum), got ${limit}.`);
  }
  for (const task of aslTasks(JSON.parse(asl.text))) {
    if (task.timeoutSeconds !== undefined && task.timeoutSeconds >= limit) {
      throw new Error(
        `${asl.path}: Task state '${task.name}' has TimeoutSeconds ${task.timeoutSeconds}, not below the Task function's timeout of ${limit} s (taskTimeoutSeconds of workflow '${definition.name}').`,
      );
    }
  }
}
