/**
 * The export steps called directly, for what the executed workflow does not reach: retries and late calls of
 * a step (idempotence), the errors the ASL retries, and verification findings other than a tampered part.
 */
import { gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { runExportStep, exportPrefix, type ExportDependencies, type ExportInput, type SourceProgress } from '../../../functions/export/export-steps';
import type { ExportManifest } from '../../../functions/export/manifest';
import { verifyExport } from '../../../functions/export/verify-export';
import { OperationStore } from '../../../functions/operations/operation-store';
import { EMPTY_USAGE } from '../../../functions/plans/plan-catalog';
import { config } from '../../../functions/shared/config';
import { TenantStore } from '../../../functions/tenants/tenant-store';
import { localS3ClientConfig } from '../../../infra/local/s3-local';
import { memorySource } from '../../support/test-data-sources';
import { useTestTable } from '../../support/test-table';

const client = useTestTable();
const tenants = new TenantStore({ client, tableName: config.tableName });
const operations = new OperationStore({ client, tableName: config.tableName });
const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
const bucket = `steps-${config.tableName.slice(-8)}`;
const deps: ExportDependencies = { tenants, operations, sources: [memorySource('usage', { 'st-a': [{ i: 1 }, { i: 2 }] })], s3, bucket };

function exportOf(tenantId: string, n: number): ExportInput {
  return { operationId: `exp_${tenantId}_${n}`, tenantId, requestedBy: 'operator:test', requestedAt: '2026-11-29T23:00:00.000Z' };
}

async function started(tenantId: string): Promise<ExportInput> {
  await tenants.create({ tenantId, name: tenantId, email: `a@${tenantId}.example`, plan: 'starter', usage: EMPTY_USAGE }, { actor: 'test' });
  const input = exportOf(tenantId, 1);
  await runExportStep(deps, { step: 'initiate', operation: input });
  return input;
}

beforeAll(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});
afterAll(() => s3.destroy());

describe('Export steps: idempotence and late calls', () => {
  it('should initiate once: a retried initiate changes nothing, an ended export is not initiated again', async () => {
    const input = await started('st-a');
    const version = (await tenants.get('st-a')).version;
    expect(await runExportStep(deps, { step: 'initiate', operation: input })).toEqual({ sources: ['usage'] });
    expect((await tenants.get('st-a')).version).toBe(version);
    await runExportStep(deps, { step: 'failExport', operation: input, failure: { Error: 'InjectedFault', Cause: JSON.stringify({ errorType: 'InjectedFault', errorMessage: 'the disk caught fire' }) } });
    const failed = await operations.get(input.operationId);
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'InjectedFault', message: 'the disk caught fire' } });
    await expect(runExportStep(deps, { step: 'initiate', operation: input })).rejects.toMatchObject({ name: 'OperationEndedError' });
    // A repeated failure step is a no-op.
    expect(await runExportStep(deps, { step: 'failExport', operation: input })).toEqual({ outcome: 'failed' });
    expect((await tenants.get('st-a')).state).toBe('active');
  });

  it('should refuse to complete an export that was not verified, and leave a completed export completed', async () => {
    const input = await started('st-b');
    await expect(runExportStep(deps, { step: 'completeExport', operation: input })).rejects.toMatchObject({ name: 'ExportVerificationError' });
    await operations.recordStep(input.operationId, 'verified');
    await runExportStep(deps, { step: 'completeExport', operation: input });
    expect(await runExportStep(deps, { step: 'completeExport', operation: input })).toEqual({});
    expect(await runExportStep(deps, { step: 'failExport', operation: input, failure: { Error: 'Lambda.Unknown' } })).toEqual({ outcome: 'succeeded' });
    expect(await tenants.get('st-b')).toMatchObject({ state: 'active' });
    expect((await operations.get(input.operationId)).status).toBe('succeeded');
  });

  it('should answer a finished source as it is, refuse a source the registry does not have, and stop a step whose export no longer owns the tenant', async () => {
    const input = await started('st-c');
    const done: SourceProgress = { source: 'usage', expected: 0, exported: 0, cursor: null, nextPart: 1, batches: 1, done: true };
    expect(await runExportStep(deps, { step: 'exportBatch', operation: input, progress: done })).toEqual(done);
    await expect(runExportStep(deps, { step: 'countSource', operation: input, source: 'nope' })).rejects.toMatchObject({ name: 'ExportNotAllowedError', message: "No data source is named 'nope'." });
    await runExportStep(deps, { step: 'failExport', operation: input });
    await expect(runExportStep(deps, { step: 'countSource', operation: input, source: 'usage' })).rejects.toMatchObject({ name: 'OperationSupersededError' });
  });
});

describe('Export steps: errors the workflow retries', () => {
  it('should turn an S3 server error into ExportStorageTransientError (retried by the ASL)', async () => {
    const input = await started('st-d');
    const flaky = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
    const mock = mockClient(flaky);
    mock.on(PutObjectCommand).rejects(new S3ServiceException({ name: 'InternalError', $fault: 'server', $metadata: { httpStatusCode: 500 }, message: 'We encountered an internal error.' }));
    const progress: SourceProgress = { source: 'usage', expected: 0, exported: 0, cursor: null, nextPart: 1, batches: 0, done: false };
    await expect(runExportStep({ ...deps, sources: [memorySource('usage', { 'st-d': [{ i: 1 }] })], s3: flaky }, { step: 'exportBatch', operation: input, progress })).rejects.toMatchObject({
      name: 'ExportStorageTransientError',
      message: expect.stringContaining('S3 failed in exportBatch'),
    });
    expect(mock.commandCalls(PutObjectCommand)[0]?.args[0].input).toMatchObject({ Bucket: bucket, Key: `${exportPrefix(input)}/usage/part-00001.ndjson.gz`, ContentType: 'application/gzip' });
    mock.restore();
    flaky.destroy();
  });
});

describe('verifyExport: findings besides a tampered part', () => {
  it('should report a count that differs from what the source held, a part holding other records than listed, and a stray part', async () => {
    const prefix = 'exports/st-v/exp_1';
    const body = gzipSync('{"i":1}\n{"i":2}\n');
    const sha256 = createHash('sha256').update(body).digest('hex');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/usage/part-00001.ndjson.gz`, Body: body }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/usage/part-00002.ndjson.gz`, Body: body }));
    const manifest: ExportManifest = {
      formatVersion: 1,
      tenantId: 'st-v',
      exportId: 'exp_1',
      requestedAt: '2026-11-29T23:00:00.000Z',
      generatedAt: '2026-11-29T23:01:00.000Z',
      format: 'ndjson+gzip',
      sources: [{ name: 'usage', expected: 5, exported: 3, parts: [{ key: 'usage/part-00001.ndjson.gz', records: 3, bytes: body.length, sha256 }] }],
    };

    const result = await verifyExport(s3, bucket, prefix, manifest);

    expect(result.problems).toEqual([
      "source 'usage' held 5 records but 3 were exported",
      'part usage/part-00001.ndjson.gz holds 2 records; the manifest says 3',
      'part usage/part-00002.ndjson.gz is stored but not in the manifest',
    ]);
  });

  it('should report a part that is not gzip even when its checksum was recorded so', async () => {
    const prefix = 'exports/st-v/exp_2';
    const body = Buffer.from('plain text, not gzip\n');
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/usage/part-00001.ndjson.gz`, Body: body }));
    const part = { key: 'usage/part-00001.ndjson.gz', records: 1, bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') };
    const manifest = { formatVersion: 1, tenantId: 'st-v', exportId: 'exp_2', requestedAt: '', generatedAt: '', format: 'ndjson+gzip', sources: [{ name: 'usage', expected: 1, exported: 1, parts: [part] }] } as const;
    expect((await verifyExport(s3, bucket, prefix, manifest)).problems).toEqual(['part usage/part-00001.ndjson.gz holds 0 records; the manifest says 1']);
  });
});
