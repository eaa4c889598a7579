import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { ROUTES } from '../../functions/api/routes';
import { HandlerFunction } from '../../infra/constructs/handler-function';
import { cdkOutdir, removeCdkOutdirs } from '../support/cdk-template';

/** The route whose handler pulls in the most (middy, zod, Powertools, the DynamoDB document client). */
const ROUTE = ROUTES.find((route) => route.tableAccess === 'write')!;

describe('Class: HandlerFunction', () => {
  const outdir = cdkOutdir('bundling');
  let bundleDir: string;

  beforeAll(() => {
    // Prepare: a stack holding one route function, bundled by the local esbuild (no Docker, no network)
    const app = new App({ outdir });
    const stack = new Stack(app, 'BundlingTest');
    const handler = new HandlerFunction(stack, 'Handler', { entry: ROUTE.entry, description: ROUTE.summary, serviceName: 'tenant-lifecycle' });

    // Act
    app.synth();
    bundleDir = path.join(outdir, (handler.function.node.findChild('Code') as Asset).assetPath);
  });

  afterAll(removeCdkOutdirs);

  describe('Bundling', () => {
    it(`should bundle ${ROUTE.id} into a minified index.js with its source map`, () => {
      // Assess
      expect(existsSync(path.join(bundleDir, 'index.js.map'))).toBe(true);
      const code = readFileSync(path.join(bundleDir, 'index.js'), 'utf8');
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
      // Unminified esbuild output indents thousands of lines; minified code has none beyond legal comments.
      expect(code.split('\n').filter((line) => /^ {2}\S/.test(line)).length).toBeLessThan(50);
      expect(statSync(path.join(bundleDir, 'index.js')).size).toBeLessThan(2 * 1024 * 1024);
    });

    it('should ship the AWS SDK version the tests ran against, not rely on the runtime', () => {
      // Act
      const code = readFileSync(path.join(bundleDir, 'index.js'), 'utf8');

      // Assess
      // Only the optional CRT signer stays a require (inside a try; the SDK falls back to its JS signer).
      expect(code).not.toMatch(/require\("@aws-sdk\/(?!signature-v4-crt")/);
      expect(code).toContain('DynamoDB_20120810'); // the DynamoDB client's wire protocol target, present only if bundled
    });

    it('should produce a module that loads and exports a handler', () => {
      // Act
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const bundle = require(path.join(bundleDir, 'index.js')) as { handler?: unknown };

      // Assess
      expect(typeof bundle.handler).toBe('function');
    });
  });
});
