/**
 * The plan-change dependencies of the functions that run the workflow's steps and compensations (the Task,
 * Timeout and Sweeper functions, and the local stack's in-process runner): the only ones that provision, so
 * the only ones that load the Pinecone SDK. The API routes and the period-end target use
 * planChangeDependencies() from plan-change-deps.ts and bundle without it.
 */
import { Pinecone } from '@pinecone-database/pinecone';
import { planChangeDependencies } from './plan-change-deps';
import type { ScheduledPlanChangeDependencies } from './scheduled-plan-change';

/** planChangeDependencies(), able to provision with Pinecone when it is configured. */
export function workflowDependencies(): ScheduledPlanChangeDependencies {
  return planChangeDependencies({ pineconeClient: (options) => new Pinecone(options) });
}
