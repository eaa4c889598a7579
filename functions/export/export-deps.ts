/**
 * What the export's steps need beyond the workflow ports: the data-source registry, the S3 client and the
 * export bucket, built from configuration on first use (the S3 SDK is loaded then, not at cold init).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { DataSource } from '../data-sources/data-source';
import { onFirstUse } from '../shared/on-first-use';
import { ConfigurationError, config } from '../shared/config';
import type { WorkflowPorts } from '../workflows/ports';

export interface ExportStorage {
  readonly sources: readonly DataSource[];
  readonly s3: S3Client;
  /** The export bucket (EXPORTS_BUCKET). */
  readonly bucket: string;
}

let storage: (() => Promise<ExportStorage>) | undefined;

/** The export's storage for these ports' billing; built once per container. Throws ConfigurationError naming a missing variable. */
export function exportStorage(ports: Pick<WorkflowPorts, 'billing'>): Promise<ExportStorage> {
  storage ??= onFirstUse(async () => {
    const [{ getS3Client }, { createDataSources }, { S3VectorStore }, { getDocumentClient }] = await Promise.all([
      import('../shared/s3-client'),
      import('../data-sources/registry'),
      import('../data-sources/s3-vector-store'),
      import('../shared/aws-clients'),
    ]);
    const bucket = config.exportsBucket;
    const documentsBucket = config.documentsBucket;
    if (!bucket) throw new ConfigurationError('Environment variable EXPORTS_BUCKET is required to export: the bucket exports are written to.');
    if (!documentsBucket) throw new ConfigurationError("Environment variable DOCUMENTS_BUCKET is required to export: the application's documents bucket.");
    if (config.pinecone) throw new ConfigurationError('Exporting vectors from Pinecone is not wired yet: the export reads the local vector store only.');
    const s3 = getS3Client();
    const sources = createDataSources({
      client: getDocumentClient(),
      tableName: config.tableName,
      documents: { bucket: documentsBucket },
      s3: () => s3,
      vectorStore: new S3VectorStore({ s3: () => s3, bucket: documentsBucket }),
      billing: ports.billing,
    });
    return { sources, s3, bucket };
  });
  return storage();
}
