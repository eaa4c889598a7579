/**
 * The S3 transfer libraries the export uses (multipart upload from a stream, presigned URLs), as the one module
 * that loads them at run time: required on first use by part-writer.ts and export-store.ts. They are not part
 * of the Lambda runtime's SDK, so they are bundled; deployed, as a file of their own beside index.js (LAZY_CHUNKS
 * in infra/constructs/handler-function.ts), so a cold start neither parses them nor reads their source map.
 */
export { Upload } from '@aws-sdk/lib-storage';
export { getSignedUrl } from '@aws-sdk/s3-request-presigner';
