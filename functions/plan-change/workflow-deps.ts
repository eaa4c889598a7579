/**
 * The plan-change dependencies of the functions that run the workflow's steps and compensations (the Task,
 * Timeout and Sweeper functions, and the local stack's in-process runner): the only ones that provision, so
 * the only ones that bundle the Pinecone SDK. The API routes and the period-end target use
 * planChangeDependencies() from plan-change-deps.ts and bundle without it.
 *
 * The SDK is loaded by the first provisioning call, not when the function starts: most invocations of these
 * functions (every step but provisioning, every step of a plan change that keeps the placement) never call
 * Pinecone. esbuild keeps the dynamically imported SDK in the same bundle, evaluated only when imported.
 */
import { planChangeDependencies } from './plan-change-deps';
import type { ScheduledPlanChangeDependencies } from './scheduled-plan-change';

/** planChangeDependencies(), able to provision with Pinecone when it is configured. */
export function workflowDependencies(): ScheduledPlanChangeDependencies {
  return planChangeDependencies({
    pineconeClient: async (options) => {
      const { Pinecone } = await import('@pinecone-database/pinecone');
      return new Pinecone(options);
    },
  });
}
