/**
 * Scheduled (every 10 minutes on AWS): compensate operations stuck past the workflow's timeout, and start
 * scheduled plan changes whose schedule was lost.
 */
import { workflowDependencies } from '../workflow-deps';
import { sweepStuckOperations, type SweepResult } from '../sweep-stuck-operations';

export const handler = async (): Promise<SweepResult> => {
  const result = await sweepStuckOperations(workflowDependencies());
  // A compensation that keeps failing must page someone: the error makes the invocation fail (alarmed).
  if (result.failed.length > 0) throw new Error(`Could not sweep operations: ${result.failed.join(', ')}`);
  return result;
};
