/**
 * What the export's steps need beyond the workflow ports: the data-source registry, the S3 client and the
 * export bucket, built from configuration on first use (the S3 SDK is loaded then, not at cold init).
 *
 * Vectors: from Pinecone when it is configured (PINECONE_API_KEY locally, PINECONE_SECRET_ARN on AWS), at the
 * tenant's placement; else from the local vector store in the documents bucket (`vectors/tenant_<id>/`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { DataSource } from '../data-sources/data-source';
import type { VectorPlacementRef } from '../data-sources/pinecone-vector-store';
import { resourcesFor } from '../provisioning/plan-resources';
import { onFirstUse } from '../shared/on-first-use';
import { ConfigurationError, config } from '../shared/config';
import type { TenantStore } from '../tenants/tenant-store';
import { configuredPineconeClient, type WorkflowPorts } from '../workflows/ports';
import { ExportStorageTransientError } from './errors';

export interface ExportBucket {
  readonly s3: S3Client;
  /** The export bucket (EXPORTS_BUCKET). */
  readonly bucket: string;
}

export interface ExportStorage extends ExportBucket {
  readonly sources: readonly DataSource[];
}

/**
 * Where a tenant's vectors are in Pinecone: the placement its record holds (what the last plan change
 * provisioned: a dedicated index for enterprise, else namespace `tenant_<id>` of the pooled index), else the
 * one its plan calls for (functions/provisioning/plan-resources.ts `resourcesFor`). Throws what `tenants.get` throws.
 */
export function vectorPlacementOf(tenants: Pick<TenantStore, 'get'>): (tenantId: string) => Promise<VectorPlacementRef> {
  return async (tenantId) => {
    const tenant = await tenants.get(tenantId);
    const { index, namespace } = tenant.resources?.vectors ?? resourcesFor(tenantId, tenant.plan).vectors;
    return { index, namespace };
  };
}

let bucketStorage: (() => Promise<ExportBucket>) | undefined;
let storage: (() => Promise<ExportStorage>) | undefined;

/**
 * The export bucket and the S3 client, built once per container: all a failed export's clean-up (failExport,
 * run by the "execution ended badly" function and the sweeper) needs. ConfigurationError without EXPORTS_BUCKET.
 */
export function exportBucket(): Promise<ExportBucket> {
  bucketStorage ??= onFirstUse(async () => {
    const bucket = config.exportsBucket;
    if (!bucket) throw new ConfigurationError('Environment variable EXPORTS_BUCKET is required to export: the bucket exports are written to.');
    const { getS3Client } = await import('../shared/s3-client');
    return { s3: getS3Client(), bucket };
  });
  return bucketStorage();
}

let registry: (() => Promise<readonly DataSource[]>) | undefined;

/**
 * The data-source registry (functions/data-sources/registry.ts) from configuration, for these ports' billing and
 * tenants: what an export reads and a hard delete purges. Built once per container. `unavailable` makes the error
 * the caller's ASL retries when the Pinecone key cannot be read. Throws ConfigurationError without DOCUMENTS_BUCKET.
 */
export function registrySources(
  ports: Pick<WorkflowPorts, 'billing'> & { readonly tenants: Pick<TenantStore, 'get'> },
  unavailable: (message: string, cause: unknown) => Error = (message, cause) => new ExportStorageTransientError(message, { cause }),
): Promise<readonly DataSource[]> {
  registry ??= onFirstUse(async () => {
    const documentsBucket = config.documentsBucket;
    if (!documentsBucket) throw new ConfigurationError("Environment variable DOCUMENTS_BUCKET is required to reach the tenants' data: the application's documents bucket.");
    const [{ getS3Client }, { createDataSources }, { getDocumentClient }] = await Promise.all([import('../shared/s3-client'), import('../data-sources/registry'), import('../shared/aws-clients')]);
    const s3 = getS3Client();
    const pinecone = configuredPineconeClient(unavailable);
    const vectorStore = pinecone
      ? new (await import('../data-sources/pinecone-vector-store')).PineconeVectorStore({ pinecone, placementOf: vectorPlacementOf(ports.tenants) })
      : new (await import('../data-sources/s3-vector-store')).S3VectorStore({ s3: () => s3, bucket: documentsBucket });
    return createDataSources({
      client: getDocumentClient(),
      tableName: config.tableName,
      documents: { bucket: documentsBucket },
      s3: () => s3,
      vectorStore,
      billing: ports.billing,
    });
  });
  return registry();
}

let archives: (() => Promise<readonly DataSource[]>) | undefined;

/**
 * The tenant's finished exports (`exports/<tenantId>/` in EXPORTS_BUCKET) as a data source, for the hard delete
 * only: an export is a full copy of the tenant's data (its name, email, documents, vectors), kept its retention
 * (EXPORT_RETENTION_DAYS, which may outlast a 30-day soft delete; S3 lifecycle expiry also runs up to a day or two
 * late), so an erasure that left it would certify what is not true (GDPR Art. 17(1)). Not in the registry: an
 * export does not contain earlier exports. Empty without EXPORTS_BUCKET: no export can have been written then.
 * Built once per container.
 */
export function exportArchiveSources(): Promise<readonly DataSource[]> {
  archives ??= onFirstUse(async () => {
    if (!config.exportsBucket) return [];
    const [{ s3, bucket }, { DocumentsSource }, { tenantExportsPrefix }] = await Promise.all([exportBucket(), import('../data-sources/documents-source'), import('./export-steps')]);
    return [
      new DocumentsSource({
        s3: () => s3,
        bucket,
        prefixOf: tenantExportsPrefix,
        name: 'exports',
        description: {
          summary: "The tenant's GDPR exports (manifest, README, gzip NDJSON parts) in the exports bucket (S3), under exports/<tenantId>/, kept their retention.",
          fields: { key: 'The object key, relative to exports/<tenantId>/: <export id>/<file>.', size: 'Size of the file (bytes).' },
        },
      }),
    ];
  });
  return archives();
}

/** The export's storage for these ports' billing and tenants; built once per container. Throws ConfigurationError naming a missing variable. */
export function exportStorage(ports: Pick<WorkflowPorts, 'billing'> & { readonly tenants: Pick<TenantStore, 'get'> }): Promise<ExportStorage> {
  storage ??= onFirstUse(async () => {
    const [{ s3, bucket }, sources] = await Promise.all([exportBucket(), registrySources(ports)]);
    return { sources, s3, bucket };
  });
  return storage();
}
