/**
 * The ports of the functions that run workflows' steps and compensations (the Task, "execution ended badly"
 * and Sweeper functions, and the local stack's in-process runner): the only ones that provision, so the only
 * ones that bundle the Pinecone SDK. The API routes and schedule targets use workflowPorts() from ports.ts and
 * bundle without it.
 *
 * The SDK is loaded by the first provisioning call, not when the function starts: most invocations of these
 * functions never call Pinecone. Deployed, the SDK (about 550 KB minified) is a file of its own beside the
 * function's index.js (./pinecone-sdk.js, see LAZY_CHUNKS in infra/constructs/handler-function.ts), so the cold
 * start neither parses nor maps it.
 */
import { workflowPorts, type WorkflowPorts } from './ports';

/** workflowPorts(), able to provision with Pinecone when it is configured. */
export function workflowDependencies(): WorkflowPorts {
  return workflowPorts({
    pineconeClient: async (options) => {
      // A plain require, kept out of the bundle (an external of HANDLER_BUNDLING): loaded now, on first use.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { Pinecone } = require('./pinecone-sdk') as typeof import('./pinecone-sdk');
      return new Pinecone(options);
    },
  });
}
