import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { buildApp, type LifecycleApp } from '../../infra/app';
import { cdkOutdir, removeCdkOutdirs, synthContext, validationFindings } from '../support/cdk-template';

/** The app with its AwsSolutions checks (buildApp's default). */
function newApp(): LifecycleApp {
  return buildApp({ outdir: cdkOutdir('nag'), context: synthContext() });
}

afterAll(removeCdkOutdirs);

describe('Class: TenantLifecycleStack', () => {
  describe('cdk-nag AwsSolutionsChecks', () => {
    it('should synthesize with no unacknowledged error or warning', () => {
      // Prepare
      const lifecycleApp = newApp();

      // Act
      const { findings, synthError } = validationFindings(lifecycleApp.app);

      // Assess
      expect(findings).toEqual([]);
      expect(synthError).toBeUndefined();
    });

    it('should report a finding nobody acknowledged (the check is live)', () => {
      // Prepare: a secret without rotation and without an acknowledgement
      const lifecycleApp = newApp();
      new Secret(lifecycleApp.stack, 'UnrotatedSecret');

      // Act
      const { findings, synthError } = validationFindings(lifecycleApp.app);

      // Assess
      expect(findings).toEqual([
        { plugin: 'AwsSolutions', rule: 'AwsSolutions-SMG4', severity: 'error', constructs: ['TenantLifecycle/UnrotatedSecret/Resource'] },
      ]);
      expect(synthError).toMatch(/AwsSolutions-SMG4/);
    });
  });
});
