/**
 * cdk-nag acknowledgements whose finding id names a resource. AwsSolutions-IAM5 names a wildcard resource as
 * `AwsSolutions-IAM5[Resource::<flattened ARN>]`, flattened from the policy as the stack resolves it: in an
 * environment-agnostic stack `<AWS::Region>` and `<AWS::AccountId>` stay tokens; with a concrete environment
 * (the CLI passes CDK_DEFAULT_REGION and CDK_DEFAULT_ACCOUNT) they are literals, and so is the partition under
 * `@aws-cdk/core:enablePartitionLiterals`. A hand-written id matches in one of those only, so the id is derived
 * here from the very ARN the grant names, resolved by the same stack and flattened by cdk-nag's own function.
 */
import { Stack, Validations } from 'aws-cdk-lib';
// Not re-exported by cdk-nag's index: the function IAM5 itself uses to name a resource (cdk-nag 3.0.x);
// test/infra/cdk-nag.test.ts fails if a cdk-nag upgrade changes it.
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/** The AwsSolutions-IAM5 finding id of a wildcard `resourceArn` (a string that may hold tokens) in `scope`'s stack. */
export function wildcardResourceFindingId(scope: IConstruct, resourceArn: string): string {
  return `AwsSolutions-IAM5[Resource::${flattenCfnReference(Stack.of(scope).resolve(resourceArn))}]`;
}

/**
 * Acknowledge, on `policy` only, the AwsSolutions-IAM5 finding for the wildcard `resourceArn` it grants.
 * @param policy the IAM policy construct (e.g. a role's DefaultPolicy) holding the statement
 * @param resourceArn the resource exactly as passed to the grant, e.g. from `Stack.formatArn`
 * @param reason why the wildcard is needed and what bounds it
 */
export function acknowledgeWildcardResource(policy: IConstruct, resourceArn: string, reason: string): void {
  Validations.of(policy).acknowledge({ id: wildcardResourceFindingId(policy, resourceArn), reason });
}
