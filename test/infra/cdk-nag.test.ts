import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { buildApp, type LifecycleApp } from '../../infra/app';

const REPO_ROOT = path.resolve(__dirname, '../..');
const OUT_ROOT = path.join(REPO_ROOT, 'build', 'cdk-test-out');
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;
/** Written by aws-cdk-lib into the cloud assembly whenever validation plugins run (cx-api VALIDATION_REPORT_FILE). */
const VALIDATION_REPORT_FILE = 'validation-report.json';

interface Finding {
  readonly plugin: string;
  readonly rule: string;
  readonly severity: string;
  readonly constructs: string[];
}

interface ValidationReport {
  readonly pluginReports: {
    readonly pluginName: string;
    readonly violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

const outdirs: string[] = [];

function newApp(): LifecycleApp {
  const outdir = path.join(OUT_ROOT, `nag-${randomUUID()}`);
  outdirs.push(outdir);
  return buildApp({ outdir, context: { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [] } });
}

/**
 * Synthesize with the AwsSolutions checks and list every unacknowledged finding, errors and warnings alike.
 * cdk-nag 3 reports through the CDK validation framework: findings go to validation-report.json in the
 * cloud assembly, and under jest (in-memory app mode) synthesis throws when any plugin fails. Acknowledged
 * findings are dropped by cdk-nag itself and never reach the report.
 */
function nagFindings({ app }: LifecycleApp): { findings: Finding[]; synthError?: string } {
  let synthError: string | undefined;
  try {
    app.synth();
  } catch (error) {
    synthError = (error as Error).message;
  }
  const report = JSON.parse(readFileSync(path.join(app.outdir, VALIDATION_REPORT_FILE), 'utf8')) as ValidationReport;
  const findings = report.pluginReports.flatMap((plugin) =>
    plugin.violations.map((violation) => ({
      plugin: plugin.pluginName,
      rule: violation.ruleName,
      severity: violation.severity,
      constructs: violation.violatingConstructs.map((construct) => construct.constructPath),
    })),
  );
  return { findings, synthError };
}

afterAll(() => {
  for (const outdir of outdirs) rmSync(outdir, { recursive: true, force: true });
});

describe('Class: TenantLifecycleStack', () => {
  describe('cdk-nag AwsSolutionsChecks', () => {
    it('should synthesize with no unacknowledged error or warning', () => {
      // Prepare
      const lifecycleApp = newApp();

      // Act
      const { findings, synthError } = nagFindings(lifecycleApp);

      // Assess
      expect(findings).toEqual([]);
      expect(synthError).toBeUndefined();
    });

    it('should report a finding nobody acknowledged (the check is live)', () => {
      // Prepare: a secret without rotation and without an acknowledgement
      const lifecycleApp = newApp();
      new Secret(lifecycleApp.stack, 'UnrotatedSecret');

      // Act
      const { findings, synthError } = nagFindings(lifecycleApp);

      // Assess
      expect(findings).toEqual([
        { plugin: 'AwsSolutions', rule: 'AwsSolutions-SMG4', severity: 'error', constructs: ['TenantLifecycle/UnrotatedSecret/Resource'] },
      ]);
      expect(synthError).toMatch(/AwsSolutions-SMG4/);
    });
  });
});
