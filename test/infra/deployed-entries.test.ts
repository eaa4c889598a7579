/**
 * Every handler module the stack deploys is invoked by a test with an event fixture: the deployed entries are
 * read from the synthesized stack (every HandlerFunction in its construct tree, and no Lambda function outside
 * one), and each must be listed in test/events/manifest.json with a fixture that exists and a test file that
 * imports the module. A function added to the stack without such a test fails here.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { IConstruct } from 'constructs';
import { buildApp } from '../../infra/app';
import { HandlerFunction } from '../../infra/constructs/handler-function';
import { cdkOutdir, REPO_ROOT, removeCdkOutdirs, synthContext } from '../support/cdk-template';

interface ManifestEntry {
  readonly entry: string;
  readonly event: string;
  readonly test: string;
}

const EVENTS_DIR = path.join(REPO_ROOT, 'test', 'events');
const manifest = (JSON.parse(readFileSync(path.join(EVENTS_DIR, 'manifest.json'), 'utf8')) as { entries: ManifestEntry[] }).entries;

/** Whether `testFile` imports the module `entry` (a static import or require of its path, with or without `.ts`). */
export function importsModule(testFile: string, entry: string): boolean {
  const source = readFileSync(path.join(REPO_ROOT, testFile), 'utf8');
  const specifiers = [...source.matchAll(/(?:from\s+|import\(\s*|require\(\s*)['"]([^'"]+)['"]/g)].map((match) => match[1] as string);
  const wanted = path.join(REPO_ROOT, entry).replace(/\.ts$/, '');
  return specifiers.some((specifier) => specifier.startsWith('.') && path.resolve(path.dirname(path.join(REPO_ROOT, testFile)), specifier).replace(/\.ts$/, '') === wanted);
}

function all(scope: IConstruct): IConstruct[] {
  return scope.node.findAll();
}

afterAll(removeCdkOutdirs);

describe('Deployed handler entries', () => {
  // With every optional part of the stack (the Stripe EventBridge path), so each function it can deploy is listed.
  const { stack } = buildApp({ outdir: cdkOutdir('entries'), nag: false, context: synthContext({ stripeEventSource: 'aws.partner/stripe.com/ed_test_61RgTestDestination' }) });
  const handlers = all(stack).filter((construct): construct is HandlerFunction => construct instanceof HandlerFunction);
  const deployed = [...new Set(handlers.map((handler) => handler.entry))].sort();

  it('should deploy every Lambda function of ours through HandlerFunction (so its entry is known here)', () => {
    const functions = all(stack).filter((construct) => construct instanceof LambdaFunction);
    const wrapped = new Set<IConstruct>(handlers.map((handler) => handler.function));
    expect(functions.filter((fn) => !wrapped.has(fn)).map((fn) => fn.node.path)).toEqual([]);
    expect(deployed.length).toBeGreaterThanOrEqual(20);
  });

  it('should list every deployed entry, and only those, in test/events/manifest.json', () => {
    expect(manifest.map((item) => item.entry).sort()).toEqual(deployed);
  });

  it.each(manifest.map((item) => [item.entry, item] as const))('%s: its fixture exists and its test imports the module', (entry, item) => {
    expect(existsSync(path.join(REPO_ROOT, entry))).toBe(true);
    expect(existsSync(path.join(EVENTS_DIR, item.event))).toBe(true);
    expect(existsSync(path.join(REPO_ROOT, item.test))).toBe(true);
    expect(importsModule(item.test, entry)).toBe(true);
    // The test loads the fixture through the events helper.
    expect(readFileSync(path.join(REPO_ROOT, item.test), 'utf8')).toMatch(/from '\.\.\/support\/events'/);
  });

  it('should detect a test that does not import an entry (the check can fail)', () => {
    expect(importsModule('test/integration/tenant-store.test.ts', 'functions/plan-change/handlers/period-end.ts')).toBe(false);
    expect(importsModule('test/integration/entry-points.test.ts', 'functions/plan-change/handlers/period-end.ts')).toBe(true);
  });
});
