/**
 * The Pinecone SDK, as the one module that loads it at run time. Required on first use by workflowDependencies
 * (./workflow-deps.ts); deployed, it is bundled as a file of its own beside the workflow functions' index.js
 * (LAZY_CHUNKS in infra/constructs/handler-function.ts), so a cold start does not parse it.
 */
export { Pinecone } from '@pinecone-database/pinecone';
