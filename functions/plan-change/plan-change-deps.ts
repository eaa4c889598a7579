/** The plan change's dependencies from configuration: the ports every workflow uses (functions/workflows/ports.ts). */
import { workflowPorts } from '../workflows/ports';

export { operationStore, type PineconeClientFactory } from '../workflows/ports';

/** workflowPorts(): the API routes and the period-end target use it, and bundle without the Pinecone SDK. */
export const planChangeDependencies = workflowPorts;
