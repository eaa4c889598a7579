import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { ROUTES } from '../../functions/api/routes';
import { buildApp } from '../../infra/app';
import { HandlerFunction, REPO_ROOT } from '../../infra/constructs/handler-function';
import { CHANGE_PLAN_ROUTE_ID } from '../../infra/tenant-lifecycle-stack';
import { cdkOutdir, removeCdkOutdirs, synthContext } from '../support/cdk-template';

/** The route whose handler pulls in the most of the shared code (middy, zod, Powertools, the DynamoDB document client). */
const ROUTE = ROUTES.find((route) => route.id === 'SuspendTenant')!;
/** The route that bills through Stripe but never provisions: it must not carry the Pinecone SDK. */
const CHANGE_PLAN = ROUTES.find((route) => route.id === CHANGE_PLAN_ROUTE_ID)!;
/** Issue 7's goal for every bundle (bench/bundles.ts measures all of them, with their cold init). */
const MAX_BUNDLE_BYTES = 500 * 1024;

describe('Class: HandlerFunction', () => {
  const outdir = cdkOutdir('bundling');
  const bundleDirs = new Map<string, string>();
  const code = (routeId: string) => readFileSync(path.join(bundleDirs.get(routeId)!, 'index.js'), 'utf8');

  beforeAll(() => {
    // Prepare: a stack holding two route functions, bundled by the local esbuild (no Docker, no network)
    const app = new App({ outdir });
    const stack = new Stack(app, 'BundlingTest');
    const handlers = [ROUTE, CHANGE_PLAN].map(
      (route) => [route.id, new HandlerFunction(stack, route.id, { entry: route.entry, description: route.summary, serviceName: 'tenant-lifecycle' })] as const,
    );

    // Act
    app.synth();
    for (const [id, handler] of handlers) bundleDirs.set(id, path.join(outdir, (handler.function.node.findChild('Code') as Asset).assetPath));
  });

  afterAll(removeCdkOutdirs);

  describe('Bundling', () => {
    it(`should bundle ${ROUTE.id} into a minified index.js of at most 500 KB, with a source map`, () => {
      // Assess
      const dir = bundleDirs.get(ROUTE.id)!;
      expect(existsSync(path.join(dir, 'index.js.map'))).toBe(true);
      expect(code(ROUTE.id).trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
      // Unminified esbuild output indents thousands of lines; minified code has none beyond legal comments.
      expect(code(ROUTE.id).split('\n').filter((line) => /^ {2}\S/.test(line)).length).toBeLessThan(50);
      expect(statSync(path.join(dir, 'index.js')).size).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    });

    it('should leave the AWS SDK v3 to the Lambda runtime, which provides it', () => {
      // Assess: required by name, not bundled (the DynamoDB client's wire protocol target is in its code)
      // (booleans, so that a failure does not print the whole bundle)
      expect(code(ROUTE.id).includes('require("@aws-sdk/lib-dynamodb")')).toBe(true);
      expect(code(ROUTE.id).includes('DynamoDB_20120810')).toBe(false);
    });

    it(`should bundle ${CHANGE_PLAN.id} with Stripe but without the Pinecone SDK, which only the workflow's functions use, within 500 KB`, () => {
      // Assess
      expect(existsSync(path.join(bundleDirs.get(CHANGE_PLAN.id)!, 'stripe-sdk.js'))).toBe(true);
      expect(code(CHANGE_PLAN.id).includes('api.pinecone.io')).toBe(false); // the SDK's default control-plane host
      expect(statSync(path.join(bundleDirs.get(CHANGE_PLAN.id)!, 'index.js')).size).toBeLessThanOrEqual(MAX_BUNDLE_BYTES);
    });

    it(`should bundle ${CHANGE_PLAN.id} with the Stripe SDK in a file of its own, required on first use, and no Pinecone SDK`, () => {
      // Assess: index.js requires the SDK's file rather than holding it
      const dir = bundleDirs.get(CHANGE_PLAN.id)!;
      expect(code(CHANGE_PLAN.id).includes('require("./stripe-sdk")')).toBe(true);
      expect(code(CHANGE_PLAN.id).includes('connect.stripe.com')).toBe(false); // the SDK's OAuth host
      expect(readFileSync(path.join(dir, 'stripe-sdk.js'), 'utf8').includes('connect.stripe.com')).toBe(true);
      expect(existsSync(path.join(dir, 'pinecone-sdk.js'))).toBe(false);
    });

    it('should produce modules that load and export a handler', () => {
      for (const id of bundleDirs.keys()) {
        // Act: the SDK resolves from this repository's node_modules, as on Lambda from the runtime's
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const bundle = require(path.join(bundleDirs.get(id)!, 'index.js')) as { handler?: unknown };

        // Assess
        expect([id, typeof bundle.handler]).toEqual([id, 'function']);
      }
    });
  });

  describe('Every deployed function', () => {
    const appOutdir = cdkOutdir('bundling-app');
    let deployed: Array<{ name: string; dir: string }> = [];

    beforeAll(() => {
      // Prepare: the app as `cdk synth` bundles it (environment-agnostic: bundling does not depend on it)
      const { app, stack } = buildApp({ outdir: appOutdir, context: synthContext({ 'aws:cdk:bundling-stacks': ['**'] }), nag: false, variables: {} });

      // Act
      app.synth();
      deployed = stack.node
        .findAll()
        .filter((construct): construct is HandlerFunction => construct instanceof HandlerFunction)
        .map((handler) => ({ name: handler.node.path, dir: path.join(appOutdir, (handler.function.node.findChild('Code') as Asset).assetPath) }));
    });

    it('should have an index.js of at most 500 KB, what its cold start loads', () => {
      // Assess (bench/bundles.ts prints the sizes and the cold init of each)
      expect(deployed.length).toBeGreaterThan(15);
      const oversize = deployed.map(({ name, dir }) => ({ name, bytes: statSync(path.join(dir, 'index.js')).size })).filter((bundle) => bundle.bytes > MAX_BUNDLE_BYTES);
      expect(oversize).toEqual([]);
    });

    it('should carry the file of every SDK its index.js requires on first use, and only those', () => {
      for (const { name, dir } of deployed) {
        const index = readFileSync(path.join(dir, 'index.js'), 'utf8');
        for (const sdk of ['stripe-sdk', 'pinecone-sdk', 's3-transfer-sdk']) {
          // Assess
          expect([name, sdk, existsSync(path.join(dir, `${sdk}.js`))]).toEqual([name, sdk, index.includes(`require("./${sdk}")`)]);
        }
      }
      // The workflow's Task function needs both: it bills and it provisions.
      const task = deployed.find(({ name }) => name.endsWith('/TaskFunction'))!;
      expect(['stripe-sdk.js', 'pinecone-sdk.js'].map((file) => existsSync(path.join(task.dir, file)))).toEqual([true, true]);
    });

    it('should require from the Lambda runtime only the AWS SDK packages it provides, bundling the others (lib-storage, s3-request-presigner)', () => {
      // The Node.js runtime ships the SDK's clients and the DynamoDB document client; not lib-storage (multipart
      // uploads from a stream) nor s3-request-presigner: a require of those would fail at run time on Lambda.
      const runtimeProvided = /^@aws-sdk\/(client-[a-z0-9-]+|lib-dynamodb|util-dynamodb)$/;
      const missing = deployed.flatMap(({ name, dir }) =>
        // (not `[require("@aws-sdk/signature-v4-crt");]`: advice quoted in an error message of the S3 signer)
        [...readFileSync(path.join(dir, 'index.js'), 'utf8').matchAll(/(?<![[\w.])require\("(@aws-sdk\/[^"/]+)[^"]*"\)/g)]
          .map((match) => match[1]!)
          .filter((pkg) => !runtimeProvided.test(pkg))
          .map((pkg) => `${name}: ${pkg}`),
      );

      // Assess
      expect([...new Set(missing)]).toEqual([]);
      // The export task really writes through lib-storage's Upload (its multipart queue), held in its bundle.
      const task = deployed.find(({ name }) => name.endsWith('/Export/TaskFunction'))!;
      expect(readFileSync(path.join(task.dir, 'index.js'), 'utf8').includes('queueSize')).toBe(true);
    });

    it('should load at cold start only the AWS SDK clients every invocation uses (Step Functions, Scheduler and Secrets Manager on first use)', () => {
      const FIRST_USE_ONLY = ['@aws-sdk/client-sfn', '@aws-sdk/client-scheduler', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-s3'];
      const script = `require(process.argv[1]); console.log(JSON.stringify(Object.keys(require.cache).map((file) => /node_modules\\/(@aws-sdk\\/client-[a-z0-9-]+)\\//.exec(file)?.[1]).filter(Boolean)))`;
      const loadedAtInit = deployed.map(({ name, dir }) => {
        // Act: a fresh node requires the bundle, as the Lambda runtime does at init; the SDK resolves from this repository
        const result = spawnSync(process.execPath, ['-e', script, path.join(dir, 'index.js')], {
          encoding: 'utf8',
          env: { PATH: process.env.PATH, NODE_PATH: path.join(REPO_ROOT, 'node_modules'), AWS_REGION: 'eu-west-1', POWERTOOLS_METRICS_DISABLED: 'true' },
        });
        expect([name, result.status, result.stderr]).toEqual([name, 0, '']);
        return { name, clients: [...new Set(JSON.parse(result.stdout) as string[])].filter((client) => FIRST_USE_ONLY.includes(client)) };
      });

      // Assess
      expect(loadedAtInit.filter(({ clients }) => clients.length > 0)).toEqual([]);
      expect(loadedAtInit.length).toBe(deployed.length);
    });

    it("should hold nothing of the local stack, so no deployed function can install the local stack's movable clock", () => {
      // Assess: every source a bundle was built from (its source map lists them), against infra/local/
      const sources = deployed.map(({ name, dir }) => ({ name, sources: (JSON.parse(readFileSync(path.join(dir, 'index.js.map'), 'utf8')) as { sources: string[] }).sources }));
      expect(sources.flatMap(({ name, sources: files }) => files.filter((file) => /(^|\/)infra\/local\//.test(file)).map((file) => `${name}: ${file}`))).toEqual([]);
      // The clock every function reads is in them (the functions that decide lifecycle times), the code that moves it is not.
      expect(sources.filter(({ sources: files }) => files.some((file) => file.endsWith('functions/shared/clock.ts'))).length).toBeGreaterThan(10);
      expect(deployed.filter(({ dir }) => readFileSync(path.join(dir, 'index.js'), 'utf8').includes('CLOCK_NOT_SIMULATED')).map(({ name }) => name)).toEqual([]);
    });

    it('should load each SDK file on its own, exporting the SDK client', () => {
      const task = deployed.find(({ name }) => name.endsWith('/TaskFunction'))!;
      // Act
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const stripe = require(path.join(task.dir, 'stripe-sdk.js')) as { Stripe?: unknown };
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const pinecone = require(path.join(task.dir, 'pinecone-sdk.js')) as { Pinecone?: unknown };

      // Assess
      expect([typeof stripe.Stripe, typeof pinecone.Pinecone]).toEqual(['function', 'function']);
    });
  });
});
