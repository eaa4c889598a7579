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
  options: { readonly maxKeys: number; readonly continuationToken?: string; readonly startAfter?: string },
): Promise<{ readonly objects: ListedObject[]; readonly next?: string }> {
  const { ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const page = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: options.maxKeys, ContinuationToken: options.continuationToken, StartAfter: options.startAfter }),
  );
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

/**
 * Delete every object under `prefix`, 1000 keys per DeleteObjects (its limit). Returns how many were deleted.
 * Each next page is listed after the last key deleted (ListObjectsV2 StartAfter; keys come in UTF-8 binary
 * order), not from the start of the prefix again: a listing from the start walks past what was just deleted
 * again (delete markers in a versioned bucket, s3rver's files), which makes emptying n keys cost O(n²), and
 * would send a key again that a listing still shows after its delete. The pass ends at the last page; what was
 * written under the prefix behind it meanwhile is for the caller's verification to find (a hard delete
 * verifies every source is empty, with retries, before it certifies). `keep` spares the keys it answers true for
 * (they are neither deleted nor counted).
 */
export async function deletePrefix(s3: S3Client, bucket: string, prefix: string, options: { readonly keep?: (key: string) => boolean } = {}): Promise<number> {
  const { DeleteObjectsCommand } = await import('@aws-sdk/client-s3');
  let deleted = 0;
  let startAfter: string | undefined;
  for (;;) {
    const page = await listPage(s3, bucket, prefix, { maxKeys: 1000, startAfter });
    if (page.objects.length === 0) return deleted;
    const doomed = options.keep ? page.objects.filter(({ key }) => !options.keep?.(key)) : page.objects;
    if (doomed.length > 0) {
      const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: doomed.map(({ key }) => ({ Key: key })), Quiet: true } }));
      if (result.Errors?.length) {
        const first = result.Errors[0];
        throw new Error(`S3 refused to delete ${result.Errors.length} object(s) under s3://${bucket}/${prefix}, first ${first?.Key}: ${first?.Code} ${first?.Message}`);
      }
    }
    deleted += doomed.length;
    if (!page.next) return deleted;
    startAfter = page.objects[page.objects.length - 1]?.key;
  }
}
