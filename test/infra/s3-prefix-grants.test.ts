/**
 * grantUnderPrefixes and hardenedBucketProps, synthesized with CDK's Template assertions: a prefix without '/'
 * is refused before any grant (it would grant `tenants/acme*`, which matches `tenants/acme-eu/...` too), a grant
 * without listing gives no s3:ListBucket, a grantee that is not a Role gets the same bounded statements, and a
 * retained bucket is not emptied on stack deletion.
 */
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal, User } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { grantUnderPrefixes, hardenedBucketProps } from '../../infra/constructs/s3-prefix-grants';

function stack() {
  const s = new Stack(new App(), 'Grants');
  return { stack: s, bucket: new Bucket(s, 'Docs', hardenedBucketProps(RemovalPolicy.RETAIN)) };
}

it('should refuse a prefix that does not end with / and grant nothing', () => {
  const { stack: s, bucket } = stack();
  const role = new Role(s, 'Reader', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  expect(() => grantUnderPrefixes(bucket, role, { objectActions: ['s3:GetObject'], prefixes: ['tenants/acme'], list: true, reason: 'test' })).toThrow(
    "A key prefix of a grant ends with '/', got 'tenants/acme'.",
  );
  Template.fromStack(s).resourceCountIs('AWS::IAM::Policy', 0);
});

it('should grant only the object actions under the prefixes, without s3:ListBucket, when listing is not asked', () => {
  const { stack: s, bucket } = stack();
  const role = new Role(s, 'Writer', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
  grantUnderPrefixes(bucket, role, { objectActions: ['s3:PutObject'], prefixes: ['exports/'], list: false, reason: 'test' });

  const policies = Template.fromStack(s).findResources('AWS::IAM::Policy');
  const statements = Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: { Action: unknown }[] } } }).Properties.PolicyDocument.Statement);
  expect(statements.map((statement) => statement.Action)).toEqual(['s3:PutObject']);
  expect(JSON.stringify(statements)).toContain('/exports/*');
});

it('should give a grantee that is not a Role (an IAM user) the same bounded statements, listing limited by s3:prefix', () => {
  const { stack: s, bucket } = stack();
  const user = new User(s, 'Operator');
  grantUnderPrefixes(bucket, user, { objectActions: ['s3:GetObject'], prefixes: ['a/', 'b/'], list: true, reason: 'test' });

  Template.fromStack(s).hasResourceProperties('AWS::IAM::Policy', {
    Users: [{ Ref: Match.anyValue() }],
    PolicyDocument: {
      Statement: Match.arrayWith([
        Match.objectLike({ Action: 's3:GetObject', Resource: [Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['/a/*'])] }), Match.objectLike({ 'Fn::Join': ['', Match.arrayWith(['/b/*'])] })] }),
        Match.objectLike({ Action: 's3:ListBucket', Condition: { StringLike: { 's3:prefix': ['a/*', 'b/*'] } } }),
      ]),
    },
  });
});

it('should keep a retained bucket\'s objects on stack deletion (no auto-delete) and empty a destroyed one', () => {
  expect(hardenedBucketProps(RemovalPolicy.RETAIN)).toMatchObject({ removalPolicy: RemovalPolicy.RETAIN, autoDeleteObjects: false, versioned: false, enforceSSL: true });
  expect(hardenedBucketProps(RemovalPolicy.DESTROY).autoDeleteObjects).toBe(true);
  const { stack: s } = stack();
  const template = Template.fromStack(s);
  template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  template.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
});
