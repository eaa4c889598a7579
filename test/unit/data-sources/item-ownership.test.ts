/**
 * Every kind of item the code writes to the lifecycle table belongs to exactly one data source, so export and hard
 * delete cannot miss one. This test reads the sources under functions/ for key prefixes (`'LEASE#'`,
 * `` `OPERATION#${...}` ``): a new prefix that no source declares in its `tableItems` fails it. The runtime half,
 * items written by the real API flows, is test/integration/data-sources/table-ownership.test.ts.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { BillingPort } from '../../../functions/billing/billing-port';
import { createDataSources, tableItemOwners } from '../../../functions/data-sources/registry';
import type { VectorStore } from '../../../functions/data-sources/vector-store';

const ROOT = join(__dirname, '..', '..', '..', 'functions');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** Key prefixes written in the code: a string or template literal that starts with CAPITALS and `#`. */
function keyPrefixesInCode(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  for (const file of sourceFiles(ROOT)) {
    if (file.includes(`${join('functions', 'data-sources')}`)) continue; // the owners themselves
    for (const match of readFileSync(file, 'utf8').matchAll(/['`]([A-Z][A-Z_]*#)/g)) {
      const prefix = match[1] as string;
      found.set(prefix, [...(found.get(prefix) ?? []), file.slice(ROOT.length + 1)]);
    }
  }
  return found;
}

const owners = tableItemOwners(
  createDataSources({
    client: {} as DynamoDBDocumentClient,
    tableName: 't',
    s3: () => {
      throw new Error('not used');
    },
    documents: { bucket: 'b' },
    vectorStore: {} as VectorStore,
    billing: { name: 'local-ledger' } as BillingPort,
  }),
);

it('should find the key prefixes the code writes (the scan of the code works)', () => {
  expect([...keyPrefixesInCode().keys()].sort()).toEqual(expect.arrayContaining(['AUDIT#', 'IDEMPOTENCY#', 'LEASE#', 'LEDGER#', 'OPERATION#', 'PINECONE#', 'PROVISIONED#', 'SCHEDULE#', 'TENANT#']));
});

it.each([...keyPrefixesInCode()].map(([prefix, files]) => [prefix, files.join(', ')]))('should give key prefix %s (written in %s) to exactly one data source', (prefix) => {
  if (prefix === 'TENANT#') {
    // The tenant's partition: shared by several kinds, each owned through its sort key (checked below).
    expect(owners.some(({ kind }) => kind.pkPrefix === 'TENANT#')).toBe(true);
    return;
  }
  const owning = owners.filter(({ kind }) => kind.skPrefix === prefix || (kind.pkPrefix === prefix && kind.pkPrefix !== 'TENANT#'));
  expect(owning.map(({ source }) => source)).toHaveLength(1);
});

it('should have no two owned kinds that could match the same item', () => {
  for (const [i, a] of owners.entries()) {
    for (const b of owners.slice(i + 1)) {
      if (a.kind.pkPrefix !== b.kind.pkPrefix) continue;
      const aSk = a.kind.sk ?? a.kind.skPrefix ?? '';
      const bSk = b.kind.sk ?? b.kind.skPrefix ?? '';
      const overlap = (a.kind.sk !== undefined && b.kind.sk !== undefined) ? aSk === bSk : aSk.startsWith(bSk) || bSk.startsWith(aSk);
      expect(`${a.source}:${a.kind.name} overlaps ${b.source}:${b.kind.name}: ${overlap}`).toMatch(/: false$/);
    }
  }
});
