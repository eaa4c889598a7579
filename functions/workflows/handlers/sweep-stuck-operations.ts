/**
 * Scheduled (every 10 minutes on AWS): compensate operations stuck past their workflow's timeout, each with
 * its own workflow's compensation, and start scheduled operations whose schedule was lost.
 */
import { sweepStuckOperations, type SweepResult } from '../sweep-stuck-operations';
import { workflowDependencies } from '../workflow-deps';

export const handler = async (): Promise<SweepResult> => {
  const result = await sweepStuckOperations(workflowDependencies());
  // A compensation that keeps failing must page someone: the error makes the invocation fail (alarmed).
  if (result.failed.length > 0) throw new Error(`Could not sweep operations: ${result.failed.join(', ')}`);
  return result;
};
