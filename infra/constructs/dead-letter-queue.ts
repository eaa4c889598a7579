/**
 * A dead-letter queue as every part of the stack keeps one: SQS-managed encryption, TLS only, 14 days (SQS's
 * longest retention), and cdk-nag's AwsSolutions-SQS3 acknowledged with why it has no dead-letter queue itself.
 */
import { Duration, Validations, type RemovalPolicy } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * @param deadLetterOf what the queue is the dead-letter queue of, in words (cdk-nag recognises only RedrivePolicy
 *   and Lambda DeadLetterConfig as dead-letter use, so the acknowledgement says where it is used)
 */
export function deadLetterQueue(scope: Construct, id: string, removalPolicy: RemovalPolicy, deadLetterOf: string): Queue {
  const queue = new Queue(scope, id, { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14), removalPolicy });
  Validations.of(queue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason: `This queue is itself a dead-letter queue: ${deadLetterOf}. cdk-nag recognises only RedrivePolicy and Lambda DeadLetterConfig as dead-letter use; a dead-letter queue of a dead-letter queue would only hide the messages further.`,
  });
  return queue;
}
