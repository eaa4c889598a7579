/**
 * A dead-letter queue as the stack makes them all: SQS-managed encryption, TLS only, 14 days of retention (time
 * to replay after fixing the cause), and the cdk-nag acknowledgement that it has no dead-letter queue of its own.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * @param deadLetterOf what fails into it, for the AwsSolutions-SQS3 acknowledgement ("the EventBridge target of ...")
 */
export function deadLetterQueue(scope: Construct, id: string, props: { readonly removalPolicy?: RemovalPolicy; readonly deadLetterOf: string }): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      `This queue is itself a dead-letter queue: of ${props.deadLetterOf}. cdk-nag recognises only RedrivePolicy and Lambda ` +
      'DeadLetterConfig as dead-letter use; a dead-letter queue of a dead-letter queue would only hide the messages further.',
  });
  return queue;
}
