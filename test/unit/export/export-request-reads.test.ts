/** Reading exports: the view of an operation with its fallbacks, the download links of a finished export, and the listing's pages. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { EXPORT_REQUEST_SK_PREFIX } from '../../../functions/export/export-definition';
import { ExportRequestError, downloadLinks, exportView, listExports, type ExportFiles } from '../../../functions/export/export-request';
import type { ExportStore, StoredExport } from '../../../functions/export/export-store';
import type { ExportManifest } from '../../../functions/export/manifest';
import type { Operation, OperationStore } from '../../../functions/operations/operation-store';
import { InvalidCursorError } from '../../../functions/tenants/errors';

const operation = (overrides: Partial<Operation> = {}): Operation => ({
  operationId: 'op_1',
  tenantId: 'acme',
  workflow: 'export',
  status: 'running',
  input: {},
  steps: [],
  facts: {},
  requestedBy: 'operator:test',
  createdAt: '2026-01-31T09:00:00.000Z',
  updatedAt: '2026-01-31T09:05:00.000Z',
  ...overrides,
});

describe('Function: exportView (fallbacks and finished exports)', () => {
  it('should take the request time from the operation and compute the month-end-clamped due date when the input has neither', () => {
    const view = exportView(operation(), new Date('2026-02-01T00:00:00Z'));
    expect(view).toMatchObject({ requestedAt: '2026-01-31T09:00:00.000Z', dueAt: '2026-02-28T09:00:00.000Z', step: 'initiated', sources: [], overdueRisk: false });
    expect(view).not.toHaveProperty('manifest');
    expect(view).not.toHaveProperty('verified');
    expect(view).not.toHaveProperty('error');
    expect(view).not.toHaveProperty('finishedAt');
  });

  it('should flag a compensating export near its due date (it is not finished)', () => {
    expect(exportView(operation({ status: 'compensating' }), new Date('2026-02-27T00:00:00Z')).overdueRisk).toBe(true);
  });

  it("should show a finished export's manifest, verification, error and end time", () => {
    const manifest = { key: 'manifest.json', parts: 2, records: 10, bytes: 300 };
    const verified = { parts: 2, records: 10, bytes: 300 };
    const error = { code: 'VERIFICATION_FAILED', message: 'part x is missing' };
    const view = exportView(
      operation({ status: 'failed', steps: ['counted:tenant', 'manifest_written'], facts: { 'progress:tenant': { expected: 1, exported: 1 }, manifest, verified }, error, finishedAt: '2026-01-31T10:00:00.000Z' }),
      new Date('2026-03-01T00:00:00Z'),
    );
    expect(view).toMatchObject({ status: 'failed', step: 'manifest_written', manifest, verified, error, finishedAt: '2026-01-31T10:00:00.000Z', overdueRisk: false });
    expect(view.sources).toEqual([{ source: 'tenant', expected: 1, exported: 1 }]);
  });
});

describe('Function: downloadLinks', () => {
  const manifest = {
    sources: [
      { name: 'tenant', parts: [{ key: 'tenant/part-00001.ndjson.gz' }] },
      { name: 'documents', parts: [{ key: 'documents/part-00001.ndjson.gz' }, { key: 'documents/part-00002.ndjson.gz' }] },
    ],
  } as unknown as ExportManifest;

  function files(expired: boolean) {
    const expire = jest.fn(async () => ({ deleted: 3 }));
    const presigned: StoredExport[] = [];
    // Later files get earlier expiries: the answer's expiresAt must be the earliest, not the first.
    const expiries = ['2026-02-01T00:15:00.000Z', '2026-02-01T00:14:00.000Z', '2026-02-01T00:13:00.000Z', '2026-02-01T00:12:00.000Z', '2026-02-01T00:16:00.000Z'];
    const store: ExportStore = {
      expiresAt: () => '2026-03-02T10:00:00.000Z',
      isExpired: () => expired,
      expire,
      presignDownload: async (stored, key) => {
        presigned.push(stored);
        return { key, url: `https://example.test/${key}`, expiresAt: expiries[presigned.length - 1] ?? '' };
      },
    };
    const readManifest = jest.fn(async () => manifest);
    return { files: { store, manifest: readManifest } satisfies ExportFiles, expire, presigned, readManifest };
  }

  it('should link the manifest, the README and every part in the manifest order, expiring with the earliest URL', async () => {
    const { files: f, presigned } = files(false);
    const answer = await downloadLinks(f, operation({ status: 'succeeded', finishedAt: '2026-01-31T10:00:00.000Z' }), 'exports/acme/op_1');
    expect(answer.files.map((file) => file.key)).toEqual(['manifest.json', 'README.md', 'tenant/part-00001.ndjson.gz', 'documents/part-00001.ndjson.gz', 'documents/part-00002.ndjson.gz']);
    expect(answer.expiresAt).toBe('2026-02-01T00:12:00.000Z');
    expect(presigned[0]).toEqual({ prefix: 'exports/acme/op_1', completedAt: '2026-01-31T10:00:00.000Z' });
  });

  it('should count retention from the last update when the operation has no end time', async () => {
    const { files: f, presigned } = files(false);
    await downloadLinks(f, operation({ status: 'succeeded' }), 'exports/acme/op_1');
    expect(presigned[0]?.completedAt).toBe('2026-01-31T09:05:00.000Z');
  });

  it('should answer 410 EXPORT_EXPIRED past retention, delete the files and presign nothing', async () => {
    const { files: f, expire, presigned, readManifest } = files(true);
    const failure = downloadLinks(f, operation({ status: 'succeeded', finishedAt: '2026-01-31T10:00:00.000Z' }), 'exports/acme/op_1');
    await expect(failure).rejects.toBeInstanceOf(ExportRequestError);
    await expect(failure).rejects.toMatchObject({ code: 'EXPORT_EXPIRED', details: { exportId: 'op_1', expiredAt: '2026-03-02T10:00:00.000Z' } });
    expect(expire).toHaveBeenCalledWith({ prefix: 'exports/acme/op_1', completedAt: '2026-01-31T10:00:00.000Z' });
    expect(readManifest).not.toHaveBeenCalled();
    expect(presigned).toHaveLength(0);
  });
});

describe('Function: listExports', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  const client = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
  const operations = { get: async (id: string) => operation({ operationId: id }) } as unknown as OperationStore;
  const sk = (n: number) => `${EXPORT_REQUEST_SK_PREFIX}2026-01-0${n}T00:00:00.000Z#op_${n}`;
  const item = (n: number) => ({ sk: sk(n), exportId: `op_${n}` });
  const now = new Date('2026-02-01T00:00:00Z');

  beforeEach(() => ddb.reset());

  it('should page newest first with a cursor that starts the next page after the last item, and no cursor on the last page', async () => {
    ddb.on(QueryCommand).resolvesOnce({ Items: [item(5), item(4), item(3)] }).resolvesOnce({ Items: [item(4), item(3)] });
    const first = await listExports(client, 'tenants', operations, 'acme', { limit: 2 }, now);
    expect(first.items.map((view) => view.exportId)).toEqual(['op_5', 'op_4']);
    expect(first.nextCursor).not.toBeNull();
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input).toMatchObject({ Limit: 3, ScanIndexForward: false, ExpressionAttributeValues: { ':prefix': EXPORT_REQUEST_SK_PREFIX } });

    const second = await listExports(client, 'tenants', operations, 'acme', { limit: 2, cursor: first.nextCursor! }, now);
    // The BETWEEN bound is inclusive: the cursor's own item (op_4) is not shown twice.
    expect(second.items.map((view) => view.exportId)).toEqual(['op_3']);
    expect(second.nextCursor).toBeNull();
    expect(ddb.commandCalls(QueryCommand)[1]?.args[0].input).toMatchObject({ Limit: 4, ExpressionAttributeValues: { ':before': sk(4), ':first': EXPORT_REQUEST_SK_PREFIX } });
  });

  it('should default to 20 per page and answer an empty list for a tenant without exports', async () => {
    ddb.on(QueryCommand).resolves({});
    expect(await listExports(client, 'tenants', operations, 'acme', {}, now)).toEqual({ items: [], nextCursor: null });
    expect(ddb.commandCalls(QueryCommand)[0]?.args[0].input.Limit).toBe(21);
  });

  it.each([
    ['not JSON', Buffer.from('{oops').toString('base64url')],
    ['another query\'s cursor', Buffer.from(JSON.stringify({ before: 'TENANT#acme' })).toString('base64url')],
    ['extra fields', Buffer.from(JSON.stringify({ before: sk(1), limit: 5 })).toString('base64url')],
  ])('should refuse a cursor that is %s with INVALID_CURSOR and query nothing', async (_name, cursor) => {
    await expect(listExports(client, 'tenants', operations, 'acme', { cursor }, now)).rejects.toBeInstanceOf(InvalidCursorError);
    expect(ddb.commandCalls(QueryCommand)).toHaveLength(0);
  });
});
