/**
 * The export ASL as a contract: it parses and validates, every transition target exists (in the Map's
 * processor too), every error it names is one our code throws or a reserved name, every working Task or the
 * Map around it is caught to FailExport, only steps the dispatcher knows are named, and nothing but ids,
 * cursors and counts is handed between states (the executed size is asserted in
 * test/integration/export/export-workflow.test.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StateMachine } from 'aws-local-stepfunctions';
import * as exportErrors from '../../functions/export/errors';
import { EXPORT_ASL_RESERVED_ERRORS } from '../../functions/export/errors';
import * as planChangeErrors from '../../functions/plan-change/errors';
import { EXPORT_STEPS } from '../../functions/export/export-steps';
import { LOCAL_SUBSTITUTIONS, loadDefinition } from '../../infra/local/local-workflow-runner';
import { transitionTargets } from '../support/asl';

interface AslState {
  Type: string;
  Next?: string;
  Default?: string;
  End?: boolean;
  Choices?: Array<{ Next: string }>;
  Retry?: Array<{ ErrorEquals: string[] }>;
  Catch?: Array<{ ErrorEquals: string[]; Next: string }>;
  Parameters?: { step?: string };
  ItemProcessor?: AslMachine;
}
interface AslMachine {
  StartAt: string;
  States: Record<string, AslState>;
  TimeoutSeconds?: number;
}

const raw = readFileSync(join(__dirname, '..', '..', 'statemachines', 'export.asl.json'), 'utf8');
const definition = loadDefinition('export' as never) as unknown as AslMachine;
const map = definition.States.ExportSources as AslState;
const inner = map.ItemProcessor as AslMachine;
const allStates = { ...definition.States, ...inner.States };
const errorNames = new Set(
  ([...Object.values(exportErrors), ...Object.values(planChangeErrors)] as unknown[])
    .filter((value): value is new (message: string) => Error => typeof value === 'function' && /Error$/.test((value as { name: string }).name))
    .map((ErrorClass) => new ErrorClass(['probe'] as never).name),
);

describe('ASL: statemachines/export.asl.json', () => {
  it('should parse and pass the ASL validator with JSONPath and ARN checks', () => {
    expect(() => new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } })).not.toThrow();
  });

  it('should have a substitution for every ${Placeholder}', () => {
    const placeholders = [...raw.matchAll(/\$\{(\w+)\}/g)].map((match) => match[1]);
    expect(new Set(placeholders)).toEqual(new Set(['ExportTaskFunctionArn']));
    for (const name of placeholders) expect(Object.keys(LOCAL_SUBSTITUTIONS)).toContain(name);
  });

  it('should point every Next, Default, Choice and Catch at a state of its own machine', () => {
    for (const machine of [definition, inner]) expect(transitionTargets(machine).filter(({ exists }) => !exists)).toEqual([]);
  });

  it('should only name errors our code exports, or reserved names', () => {
    const names = Object.values(allStates).flatMap((state) => [...(state.Retry ?? []), ...(state.Catch ?? [])].flatMap((rule) => rule.ErrorEquals));
    for (const name of names) expect({ name, known: errorNames.has(name) || (EXPORT_ASL_RESERVED_ERRORS as readonly string[]).includes(name) }).toEqual({ name, known: true });
    for (const name of ['StoreContentionError', 'ExportStorageTransientError']) expect(errorNames.has(name)).toBe(true);
  });

  it('should never retry a verification failure or a refused export: they fail the export at once', () => {
    const retried = Object.values(allStates).flatMap((state) => (state.Type === 'Task' && state.Parameters?.step !== 'failExport' ? (state.Retry ?? []).flatMap((rule) => rule.ErrorEquals) : []));
    expect(retried).not.toContain('ExportVerificationError');
    expect(retried).not.toContain('ExportNotAllowedError');
    expect(retried).not.toContain('States.ALL');
  });

  it('should catch every failure of every top-level working Task and of the Map, and send it to FailExport', () => {
    const caught = Object.entries(definition.States).filter(([name, state]) => (state.Type === 'Task' || state.Type === 'Map') && name !== 'FailExport');
    expect(caught.map(([name]) => name)).toEqual(['Initiate', 'ExportSources', 'WriteManifest', 'VerifyExport', 'CompleteExport']);
    for (const [name, state] of caught) {
      expect({ name, catches: state.Catch?.some((c) => c.ErrorEquals.includes('States.ALL') && c.Next === 'FailExport') }).toEqual({ name, catches: true });
    }
  });

  it('should name every step the dispatcher knows, and no other', () => {
    const steps = Object.values(allStates).filter((state) => state.Type === 'Task').map((state) => state.Parameters?.step);
    expect(new Set(steps)).toEqual(new Set(EXPORT_STEPS));
  });

  it('should pass no records between states: Task parameters are ids, a source name, progress (cursor and counts) or summaries', () => {
    const parameters = Object.values(allStates).flatMap((state) => Object.keys(state.Parameters ?? {}));
    expect(new Set(parameters)).toEqual(new Set(['step', 'operation.$', 'source.$', 'progress.$', 'sources.$', 'failure.$', 'expected.$', 'exported.$', 'batches.$']));
  });

  it('should bound the whole execution with a timeout', () => {
    expect(definition.TimeoutSeconds).toBeGreaterThan(0);
  });
});
