/**
 * The plan-change dependencies of the functions that run the workflow's steps and compensations (the Task,
 * Timeout and Sweeper functions, and the local stack's in-process runner): the only ones that provision, so
 * the only ones that bundle the Pinecone SDK. The API routes and the period-end target use
 * planChangeDependencies() from plan-change-deps.ts and bundle without it.
 *
 * The SDK is loaded by the first provisioning call, not when the function starts: most invocations of these
 * functions (every step but provisioning, every step of a plan change that keeps the placement) never call
 * Pinecone. Deployed, the SDK (about 550 KB minified) is a file of its own beside the function's index.js
 * (./pinecone-sdk.js, see LAZY_CHUNKS in infra/constructs/handler-function.ts), so the cold start neither parses
 * nor maps it.
 */
import { planChangeDependencies } from './plan-change-deps';
import type { ScheduledPlanChangeDependencies } from './scheduled-plan-change';

/** planChangeDependencies(), able to provision with Pinecone when it is configured. */
export function workflowDependencies(): ScheduledPlanChangeDependencies {
  return planChangeDependencies({
    pineconeClient: async (options) => {
      // A plain require, kept out of the bundle (an external of HANDLER_BUNDLING): loaded now, on first use.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Pinecone } = require('./pinecone-sdk') as typeof import('./pinecone-sdk');
      return new Pinecone(options);
    },
  });
}
