/**
 * Helpers shared by the infra tests: where they synthesize, and how they read a synthesized CloudFormation template.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { App, CfnElement, Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { BY_STATE_INDEX, BY_TENANT_INDEX } from '../../functions/tenants/tenant-table';

/** The repository's root directory. */
export const REPO_ROOT = path.resolve(__dirname, '../..');

/** Where the infra tests write their cloud assemblies, one directory per synthesis. */
export const CDK_OUT_ROOT = path.join(REPO_ROOT, 'build', 'cdk-test-out');

/** The project's own context (feature flags) from cdk.json, as the CLI would pass it. */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

/** The context to synthesize with: the project's feature flags, no bundling, then `extra` on top. */
export function synthContext(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...CDK_JSON_CONTEXT, 'aws:cdk:bundling-stacks': [], ...extra };
}

const outdirs: string[] = [];

/** A fresh cloud assembly directory under CDK_OUT_ROOT, named `<prefix>-<uuid>`, removed by removeCdkOutdirs. */
export function cdkOutdir(prefix: string): string {
  const outdir = path.join(CDK_OUT_ROOT, `${prefix}-${randomUUID()}`);
  outdirs.push(outdir);
  return outdir;
}

/** Remove every directory cdkOutdir has handed out in this test file (call it from afterAll). */
export function removeCdkOutdirs(): void {
  for (const outdir of outdirs.splice(0)) rmSync(outdir, { recursive: true, force: true });
}

/** An IAM policy statement as CloudFormation holds it. */
export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Principal?: unknown;
  readonly Condition?: unknown;
}

/** A resource of the template's Resources section. */
export interface Resource {
  readonly Type: string;
  readonly Properties: Record<string, unknown>;
  readonly DependsOn?: string | string[];
  readonly DeletionPolicy?: string;
}

/** The properties of an AWS::IAM::Policy. */
export interface PolicyProperties {
  readonly PolicyDocument: { Statement: Statement[] };
  readonly Roles: { Ref: string }[];
}

/** The properties of an AWS::SQS::QueuePolicy. */
export interface QueuePolicyProperties {
  readonly PolicyDocument: { Statement: Statement[] };
  readonly Queues: unknown[];
}

/** The item writes LifecycleTable.grantWriteTenants allows, sorted as CDK renders them. */
export const TABLE_WRITE_ACTIONS: readonly string[] = ['dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];

/** What LifecycleTable.grantReadTenants names: the table and exactly its two indexes, `tableArn` as rendered. */
export function tableReadResources(tableArn: unknown): unknown[] {
  return [tableArn, ...[BY_STATE_INDEX.name, BY_TENANT_INDEX.name].map((index) => ({ 'Fn::Join': ['', [tableArn, `/index/${index}`]] }))];
}

/** What OneShotScheduler.grantSchedule allows on the schedule group's schedules, sorted (grantCancel: DeleteSchedule only). */
export const SCHEDULE_ACTIONS: readonly string[] = ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule', 'scheduler:GetSchedule', 'scheduler:UpdateSchedule'];

/** The only service the scheduler role may be passed to: the condition on every iam:PassRole of it. */
export const PASSED_TO_SCHEDULER = { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } };

/** A value that may be one item, a list of them, or absent, as a list. */
export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** `arn:<partition>:<service>:<region>:<account>:<resource>` as an env-agnostic stack renders it. */
export function arnOf(service: string, resource: string): unknown {
  return { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:${resource}`]] };
}

/** Every schedule of a schedule group, `schedule/<group>/*`: the resource OneShotScheduler's grants name. */
export function schedulesArn(groupName: string): unknown {
  return arnOf('scheduler', `schedule/${groupName}/*`);
}

/** The logical id of a construct's CloudFormation resource (its default child) in the stack. */
export function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** The template's resources by logical id. */
export function resources(template: Template): Record<string, Resource> {
  return (template.toJSON() as { Resources: Record<string, Resource> }).Resources;
}

/** The template's resources of one type, as `[logicalId, resource]` pairs, their properties typed as `P`. */
export function resourcesOf<P>(template: Template, type: string): [string, Resource & { Properties: P }][] {
  return Object.entries(template.findResources(type)) as [string, Resource & { Properties: P }][];
}

/** Every statement of every AWS::IAM::Policy in the template. */
export function statementsOf(template: Template): Statement[] {
  return resourcesOf<PolicyProperties>(template, 'AWS::IAM::Policy').flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}

/** Every IAM statement attached to a role: its default policy and any other AWS::IAM::Policy naming it. */
export function statementsOfRole(template: Template, roleId: string): Statement[] {
  return resourcesOf<PolicyProperties>(template, 'AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((role) => role.Ref === roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement);
}

/** The actions of the statements, in order, each statement's single action or list flattened. */
export function actionsOf(statements: readonly Statement[]): string[] {
  return statements.flatMap((statement) => asArray(statement.Action));
}

/** The environment variables of the Lambda function with this logical id. */
export function variablesOf(template: Template, functionId: string): Record<string, unknown> {
  return (resources(template)[functionId]?.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
}

/** Written by aws-cdk-lib into the cloud assembly whenever validation plugins run (cx-api VALIDATION_REPORT_FILE). */
const VALIDATION_REPORT_FILE = 'validation-report.json';

interface ValidationReport {
  readonly pluginReports: {
    readonly pluginName: string;
    readonly violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[];
  }[];
}

/** One rule a validation plugin (cdk-nag) reports broken, with the paths of the constructs that break it. */
export interface Finding {
  readonly plugin: string;
  readonly rule: string;
  readonly severity: string;
  readonly constructs: string[];
}

/**
 * Synthesize the app and list every finding of its validation plugins, errors and warnings alike.
 * cdk-nag 3 reports through the CDK validation framework: findings go to validation-report.json in the
 * cloud assembly, and under jest (in-memory app mode) synthesis throws when any plugin fails. Acknowledged
 * findings are dropped by cdk-nag itself and never reach the report.
 */
export function validationFindings(app: App): { findings: Finding[]; synthError?: string } {
  let synthError: string | undefined;
  try {
    app.synth();
  } catch (error) {
    synthError = error instanceof Error ? error.message : String(error);
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
