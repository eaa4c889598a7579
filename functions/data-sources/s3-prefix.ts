/**
 * Listing and deleting everything under an S3 prefix: shared by the documents source and the local vector store.
 * The S3 SDK is loaded on first use (cold init; test/infra/bundling.test.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';

export interface ListedObject {
  readonly key: string;
  readonly size: number;
  readonly lastModified?: Date;
  readonly etag?: string;
}

/** One ListObjectsV2 page under `prefix` (keys in UTF-8 binary order, as S3 lists them). */
export async function listPage(
  s3: S3Client,
  bucket: string,
  prefix: string,
  options: { readonly maxKeys: number; readonly continuationToken?: string },
): Promise<{ readonly objects: ListedObject[]; readonly next?: string }> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: options.maxKeys, ContinuationToken: options.continuationToken }));
  return {
    objects: (page.Contents ?? []).map((object) => ({ key: object.Key as string, size: object.Size ?? 0, lastModified: object.LastModified, etag: object.ETag })),
    next: page.IsTruncated ? page.NextContinuationToken : undefined,
  };
}

/** How many objects are under `prefix`. */
export async function countObjects(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let total = 0;
  let token: string | undefined;
  do {
    const page = await listPage(s3, bucket, prefix, { maxKeys: 1000, continuationToken: token });
    total += page.objects.length;
    token = page.next;
  } while (token);
  return total;
}

/** Delete every object under `prefix`, 1000 keys per DeleteObjects (its limit). Returns how many were deleted. */
export async function deletePrefix(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
  let deleted = 0;
  for (;;) {
    // Always list from the start: the page just deleted is gone, so what is left comes first.
    const page = await listPage(s3, bucket, prefix, { maxKeys: 1000 });
    if (page.objects.length === 0) return deleted;
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: page.objects.map(({ key }) => ({ Key: key })), Quiet: true } }));
    if (result.Errors?.length) {
      const first = result.Errors[0];
      throw new Error(`S3 refused to delete ${result.Errors.length} object(s) under s3://${bucket}/${prefix}, first ${first?.Key}: ${first?.Code} ${first?.Message}`);
    }
    deleted += page.objects.length;
  }
}
