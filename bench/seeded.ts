/**
 * Deterministic pseudo-random numbers in [0, 1) (mulberry32) for the benches: the same seed gives the same
 * sequence, so a run's seeded data and injected faults can be reproduced.
 */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'tenant invoice policy report contract meeting summary customer renewal forecast quarter region storage query vector plan'.split(' ');

/** A 1–2 KB text document (`random` from `seeded`). */
export function documentText(random: () => number, index: number): string {
  const target = 1024 + Math.floor(random() * 1024);
  let text = `Document ${index}\n`;
  while (text.length < target) text += `${WORDS[Math.floor(random() * WORDS.length)]} `;
  return text.slice(0, target);
}

/** Run `fn(0..total-1)` with at most `concurrency` calls in flight; rejects with the first failure. */
export async function withConcurrency(total: number, concurrency: number, fn: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, total) }, async () => {
      while (next < total) {
        const index = next;
        next += 1;
        await fn(index);
      }
    }),
  );
}

/** Dimensions of a seeded vector (OpenAI text-embedding-3-small's). */
export const VECTOR_DIMENSION = 1536;
/** Documents per folder: an application spreads its objects over folders (`<folder>/<document>`). */
const PER_FOLDER = 1000;

/** Where a tenant's seeded data goes: the documents bucket (one S3 object per document) and the vector store. */
export interface TenantDataTarget {
  readonly s3: import('@aws-sdk/client-s3').S3Client;
  readonly bucket: string;
  readonly vectorStore: Pick<import('../functions/data-sources/vector-store').VectorStore, 'upsert'>;
}

/**
 * Seed `documents` text documents of 1–2 KB (`tenants/<id>/<folder>/doc-NNNNNN.txt`, 32 PUTs in flight) and
 * `vectors` vectors of VECTOR_DIMENSION dimensions (in batches of 256) for `tenantId`, from the PRNG seeded
 * with `documents`: the same sizes give the same data.
 */
export async function seedTenantData(target: TenantDataTarget, tenantId: string, documents: number, vectors: number): Promise<void> {
  const { PutObjectCommand } = await import('@aws-sdk/client-s3');
  const random = seeded(documents);
  const texts = Array.from({ length: documents }, (_, i) => documentText(random, i));
  await withConcurrency(documents, 32, async (i) => {
    const folder = String(Math.floor(i / PER_FOLDER)).padStart(4, '0');
    const Key = `tenants/${tenantId}/${folder}/doc-${String(i).padStart(6, '0')}.txt`;
    await target.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key, Body: texts[i], ContentType: 'text/plain; charset=utf-8' }));
  });
  const chunk = 256;
  await withConcurrency(Math.ceil(vectors / chunk), 1, async (c) => {
    const batch = Array.from({ length: Math.min(chunk, vectors - c * chunk) }, (_, j) => {
      const i = c * chunk + j;
      return { id: `vec-${String(i).padStart(6, '0')}`, values: Array.from({ length: VECTOR_DIMENSION }, () => random() * 2 - 1), metadata: { document: `doc-${String(i * 4).padStart(6, '0')}.txt`, chunk: i % 4 } };
    });
    await target.vectorStore.upsert(tenantId, batch);
  });
}
