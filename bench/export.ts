/**
 * GDPR export throughput and memory: a large tenant (100,000 documents of 1–2 KB, one S3 object each, and
 * 25,000 vectors of 1,536 dimensions) and one ten times smaller, each exported by the real export workflow:
 * statemachines/export.asl.json executed in-process by aws-local-stepfunctions, its Task states bound to the
 * real steps (functions/export/export-steps.ts) over the real data-source registry (`createDataSources`: the
 * tenant record, audit, usage, table items, operations, documents in S3, vectors in the local S3 vector store,
 * billing history from the local ledger), against DynamoDB Local and s3rver started here on free loopback ports.
 * The export includes the manifest and the verification that re-reads every part.
 *
 * Method:
 * - Seeding runs in this process with bounded concurrency (its time is printed). Each measured run is a fresh
 *   child process, so its peak RSS (`process.resourceUsage().maxRSS`, the kernel's high-water mark) holds
 *   only that run, never the seeding or another run.
 * - Two baselines in the same run, each in its own child too:
 *   raw read: the same sources' pages (`exportPage` with the export's page size, so the same ListObjectsV2
 *   pages, the same parallel S3 GETs, the same DynamoDB queries, the same vector pages), the sources two at a
 *   time as the ASL's Map runs them, and nothing else: no NDJSON, gzip, upload, checksum or verification.
 *   gzip: `zlib` gzip level 6 (as `gzip -6`) over the same NDJSON bytes the export wrote (its parts decoded
 *   into a file beforehand), read from that file.
 * - Records/s counts every exported record; MB/s is MB (10^6 bytes) of NDJSON, the same bytes for the three.
 * - Goals (issue 8): peak RSS of the large within 1.3× of the small; export ≥ 0.7× the raw read.
 *
 *   npm run bench:export        BENCH_SCALE=0.1 for a quicker run (sizes × 0.1); BENCH_KEEP=1 keeps the
 *                               seeded S3 data in $TMPDIR/bench-export-data for the next run (default: fresh
 *                               temporary directory, removed at the end); BENCH_PROFILE=1 writes a
 *                               --cpu-prof profile of each export child into ./bench-profiles.
 */
import { spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { applyLoopbackEnvironment } from '../infra/local/loopback-env';
import { VECTOR_DIMENSION, seedTenantData } from './seeded';
import { startBenchEmulators, tableStores, type BenchEmulators } from './bench-stack';

applyLoopbackEnvironment();
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const KEEP = process.env.BENCH_KEEP === '1';
const PROFILE = process.env.BENCH_PROFILE === '1';
const TABLE = 'bench-export';
const DOCUMENTS_BUCKET = 'bench-documents';
const EXPORTS_BUCKET = 'bench-exports';
const DIMENSION = VECTOR_DIMENSION;

interface TenantSize {
  readonly tenantId: string;
  readonly documents: number;
  readonly vectors: number;
}
const LARGE: TenantSize = { tenantId: 'bench-large', documents: Math.round(100_000 * SCALE), vectors: Math.round(25_000 * SCALE) };
const SMALL: TenantSize = { tenantId: 'bench-small', documents: Math.round(LARGE.documents / 10), vectors: Math.round(LARGE.vectors / 10) };

/** What a child reports on its last stdout line. */
interface ChildResult {
  readonly seconds: number;
  readonly records: number;
  /** Peak RSS of the child, bytes. */
  readonly maxRss: number;
  readonly detail?: Record<string, unknown>;
}


/** Environment of the functions (configuration is read at import). */
function functionEnvironment(dynamoEndpoint: string, s3Endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_DYNAMODB: dynamoEndpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
    TABLE_NAME: TABLE,
    DOCUMENTS_BUCKET,
    EXPORTS_BUCKET,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
  };
}

/** The real registry of data sources and what the export steps need, as functions/export/export-deps.ts builds them. */
async function exportDependencies() {
  const { S3Client } = await import('@aws-sdk/client-s3');
  const { localS3ClientConfig } = await import('../infra/local/s3-local');
  const { createDataSources } = await import('../functions/data-sources/registry');
  const { S3VectorStore } = await import('../functions/data-sources/s3-vector-store');
  const { client, tenants, operations, billing } = await tableStores(TABLE);
  const s3 = new S3Client(localS3ClientConfig(process.env.AWS_ENDPOINT_URL_S3 as string));
  const sources = createDataSources({
    client,
    tableName: TABLE,
    documents: { bucket: DOCUMENTS_BUCKET },
    s3: () => s3,
    vectorStore: new S3VectorStore({ s3: () => s3, bucket: DOCUMENTS_BUCKET }),
    billing,
  });
  return { client, s3, sources, tenants, operations };
}

/** The child's memory by kind, sampled every 100 ms: what its peak RSS is made of (peaks, bytes). */
const peaks = { heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
function sampleMemory(): void {
  const usage = process.memoryUsage();
  for (const key of Object.keys(peaks) as Array<keyof typeof peaks>) peaks[key] = Math.max(peaks[key], usage[key]);
}

function report(result: ChildResult): void {
  sampleMemory();
  const memory = Object.fromEntries(Object.entries(peaks).map(([key, bytes]) => [key, Math.round(bytes / 1e6)]));
  process.stdout.write(`RESULT ${JSON.stringify({ ...result, maxRss: process.resourceUsage().maxRSS * 1024, detail: { ...result.detail, peakMB: memory } })}\n`);
}

/** Child: export `tenantId` through the export ASL, as the local runner executes it. */
async function childExport(tenantId: string, operationId: string): Promise<void> {
  const { StateMachine } = await import('aws-local-stepfunctions');
  const { loadDefinition, taskStateNames } = await import('../infra/local/local-workflow-runner');
  const { runExportStep } = await import('../functions/export/export-steps');
  const deps = await exportDependencies();
  const definition = loadDefinition('export');
  const machine = new StateMachine(definition as never, { validationOptions: { checkPaths: true, checkArn: true } });
  const steps = { tenants: deps.tenants, operations: deps.operations, sources: deps.sources, s3: deps.s3, bucket: EXPORTS_BUCKET };
  const handlers = Object.fromEntries(taskStateNames(definition.States as never).map((state) => [state, (event: never) => runExportStep(steps, event)]));
  const started = performance.now();
  const execution = machine.run({ operation: { operationId, tenantId, requestedBy: 'operator:bench', requestedAt: new Date().toISOString() } } as never, {
    overrides: { taskResourceLocalHandlers: handlers as never },
  });
  // A failed export ends the execution with an error; its reason is in the operation record.
  await execution.result.catch(() => undefined);
  const seconds = (performance.now() - started) / 1000;
  const operation = await deps.operations.get(operationId);
  if (operation.status !== 'succeeded') throw new Error(`export ${operationId} ended ${operation.status} after ${seconds.toFixed(1)} s: ${JSON.stringify(operation.error)}`);
  const manifest = (operation.facts as { manifest?: { records: number; parts: number; bytes: number } }).manifest;
  report({ seconds, records: manifest?.records ?? 0, maxRss: 0, detail: { parts: manifest?.parts, gzipBytes: manifest?.bytes } });
  deps.s3.destroy();
}

/** Child: the raw read of the same sources: the same pages, the same concurrency, nothing done with the records. */
async function childRawRead(tenantId: string): Promise<void> {
  const { DEFAULT_PART_LIMITS } = await import('../functions/export/part-writer');
  const { mapWithConcurrency } = await import('../functions/data-sources/concurrency');
  const deps = await exportDependencies();
  const started = performance.now();
  // Two sources at a time, as the export ASL's Map (MaxConcurrency 2).
  const counts = await mapWithConcurrency(deps.sources, 2, async (source) => {
    let records = 0;
    let cursor: string | null = null;
    do {
      const page = await source.exportPage(tenantId, cursor, DEFAULT_PART_LIMITS.pageSize);
      records += page.records.length;
      cursor = page.nextCursor;
    } while (cursor !== null);
    return records;
  });
  const seconds = (performance.now() - started) / 1000;
  report({ seconds, records: counts.reduce((a, b) => a + b, 0), maxRss: 0 });
  deps.s3.destroy();
}

/** Child: gzip level 6 over the NDJSON file, output discarded. */
async function childGzip(file: string, records: number): Promise<void> {
  const started = performance.now();
  let out = 0;
  await pipeline(
    createReadStream(file),
    createGzip({ level: 6 }),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        out += chunk.length;
        callback();
      },
    }),
  );
  report({ seconds: (performance.now() - started) / 1000, records, maxRss: 0, detail: { gzipBytes: out } });
}

/** Run this file as a child in `mode`; resolves with its result. */
function runChild(args: readonly string[], env: Record<string, string>, profileName?: string): Promise<ChildResult> {
  const profile = PROFILE && profileName ? ['--cpu-prof', '--cpu-prof-dir=bench-profiles', `--cpu-prof-name=${profileName}.cpuprofile`] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, ...profile, __filename, 'child', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.on('exit', (code) => {
      children.delete(child);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)) as ChildResult);
      else reject(new Error(`child ${args.join(' ')} exited ${code}: ${stderr.trim().slice(-2000)}`));
    });
  });
}
const children = new Set<ReturnType<typeof spawn>>();

const mb = (bytes: number) => bytes / 1e6;
const fixed = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main(): Promise<void> {
  const dataDir = KEEP ? join(tmpdir(), 'bench-export-data') : mkdtempSync(join(tmpdir(), 'bench-export-'));
  const s3Dir = join(dataDir, 's3');
  mkdirSync(s3Dir, { recursive: true });
  const cleanUp = () => {
    for (const child of children) child.kill('SIGKILL');
    if (KEEP) rmSync(join(dataDir, 'ndjson'), { recursive: true, force: true });
    else rmSync(dataDir, { recursive: true, force: true });
  };
  let emulators: BenchEmulators | undefined;
  const stop = async () => (emulators ? emulators.stop() : cleanUp());
  try {
    emulators = await startBenchEmulators({ s3Directory: s3Dir, buckets: [DOCUMENTS_BUCKET, EXPORTS_BUCKET], cleanUp });
    const env = functionEnvironment(emulators.dynamoEndpoint, emulators.s3Endpoint);
    Object.assign(process.env, env);
    const { CreateTableCommand } = await import('@aws-sdk/client-dynamodb');
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const { createTableInput } = await import('../functions/tenants/tenant-table');
    const { S3VectorStore } = await import('../functions/data-sources/s3-vector-store');
    const { EMPTY_USAGE } = await import('../functions/plans/plan-catalog');
    const deps = await exportDependencies();
    await deps.client.send(new CreateTableCommand(createTableInput(TABLE)));

    // Seeding: the tenants in DynamoDB (each run: the table is in memory), documents and vectors in S3.
    const seedStarted = performance.now();
    const marker = join(dataDir, `seeded-${SCALE}.json`);
    const reuse = KEEP && existsSync(marker);
    const vectorStore = new S3VectorStore({ s3: () => deps.s3, bucket: DOCUMENTS_BUCKET, concurrency: 16 });
    for (const size of [LARGE, SMALL]) {
      await deps.tenants.create({ tenantId: size.tenantId, name: size.tenantId, email: `admin@${size.tenantId}.example`, plan: 'starter', usage: EMPTY_USAGE }, { actor: 'bench' });
      if (reuse) continue;
      await seedTenantData({ s3: deps.s3, bucket: DOCUMENTS_BUCKET, vectorStore }, size.tenantId, size.documents, size.vectors);
    }
    if (KEEP) writeFileSync(marker, JSON.stringify({ LARGE, SMALL }));
    const seedSeconds = (performance.now() - seedStarted) / 1000;
    process.stdout.write(
      `seeded ${LARGE.documents + SMALL.documents} documents and ${LARGE.vectors + SMALL.vectors} vectors in ${fixed(seedSeconds)} s${reuse ? ' (S3 data kept from an earlier run: tenants only)' : ''}\n`,
    );

    const ndjsonDir = join(dataDir, 'ndjson');
    mkdirSync(ndjsonDir, { recursive: true });
    const rows: Array<{ tenant: TenantSize; run: string; result: ChildResult; ndjsonBytes: number }> = [];
    const runId = Date.now().toString(36);
    for (const tenant of [SMALL, LARGE]) {
      const operationId = `exp_bench_${tenant.tenantId}_${runId}`;
      const exported = await runChild(['export', tenant.tenantId, operationId], env, `export-${tenant.tenantId}`);
      // The NDJSON the export wrote: its parts decoded (and its counts checked against what was seeded).
      const manifest = JSON.parse(
        await (await deps.s3.send(new GetObjectCommand({ Bucket: EXPORTS_BUCKET, Key: `exports/${tenant.tenantId}/${operationId}/manifest.json` }))).Body!.transformToString(),
      ) as { sources: Array<{ name: string; exported: number; parts: Array<{ key: string }> }> };
      const exportedOf = (name: string) => manifest.sources.find((source) => source.name === name)?.exported;
      if (exportedOf('documents') !== tenant.documents || exportedOf('vectors') !== tenant.vectors) {
        throw new Error(`export of ${tenant.tenantId} holds ${exportedOf('documents')} documents and ${exportedOf('vectors')} vectors; seeded ${tenant.documents} and ${tenant.vectors}`);
      }
      const file = join(ndjsonDir, `${tenant.tenantId}.ndjson`);
      const out = createWriteStream(file);
      for (const source of manifest.sources) {
        for (const part of source.parts) {
          const object = await deps.s3.send(new GetObjectCommand({ Bucket: EXPORTS_BUCKET, Key: `exports/${tenant.tenantId}/${operationId}/${part.key}` }));
          for await (const chunk of (object.Body as Readable).pipe(createGunzip())) {
            if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
          }
        }
      }
      await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
      const ndjsonBytes = statSync(file).size;
      rows.push({ tenant, run: 'export', result: exported, ndjsonBytes });
      rows.push({ tenant, run: 'raw read', result: await runChild(['raw', tenant.tenantId], env), ndjsonBytes });
      rows.push({ tenant, run: 'gzip -6', result: await runChild(['gzip', file, String(exported.records)], env), ndjsonBytes });
      rmSync(file, { force: true });
    }

    const load = loadavg();
    process.stdout.write(`\nExport of a tenant (documents 1–2 KB each, vectors of ${DIMENSION} dimensions), scale ${SCALE}; ${cpus().length} cores, load average ${load.map((n) => n.toFixed(2)).join(' ')}\n\n`);
    process.stdout.write('| tenant | documents | vectors | run | records | NDJSON MB | s | records/s | MB/s | peak RSS MB |\n');
    process.stdout.write('|--------|----------:|--------:|-----|--------:|----------:|--:|----------:|-----:|------------:|\n');
    for (const { tenant, run, result, ndjsonBytes } of rows) {
      process.stdout.write(
        `| ${tenant.tenantId} | ${tenant.documents} | ${tenant.vectors} | ${run} | ${result.records} | ${fixed(mb(ndjsonBytes))} | ${fixed(result.seconds, 2)} | ${fixed(result.records / result.seconds, 0)} | ${fixed(mb(ndjsonBytes) / result.seconds)} | ${fixed(mb(result.maxRss))} |\n`,
      );
    }
    const figure = (tenant: TenantSize, run: string) => rows.find((row) => row.tenant === tenant && row.run === run) as (typeof rows)[number];
    const rate = (row: (typeof rows)[number]) => row.result.records / row.result.seconds;
    const rssRatio = figure(LARGE, 'export').result.maxRss / figure(SMALL, 'export').result.maxRss;
    const rawRatio = rate(figure(LARGE, 'export')) / rate(figure(LARGE, 'raw read'));
    const gzipRatio = rate(figure(LARGE, 'export')) / rate(figure(LARGE, 'gzip -6'));
    process.stdout.write(`\n(ratios of the large tenant's runs; goals: rss ≤ 1.3, export/raw-read ≥ 0.7)\n`);
    process.stdout.write(`ratio rss large/small: ${rssRatio.toFixed(2)}\n`);
    process.stdout.write(`ratio export/raw-read: ${rawRatio.toFixed(2)}\n`);
    process.stdout.write(`ratio export/gzip: ${gzipRatio.toFixed(2)}\n`);
    process.stdout.write(
      `${JSON.stringify({ bench: 'export', scale: SCALE, cores: cpus().length, loadavg: load, seedSeconds, rows: rows.map(({ tenant, run, result, ndjsonBytes }) => ({ tenant: tenant.tenantId, run, ndjsonBytes, ...result })), ratios: { rss: rssRatio, rawRead: rawRatio, gzip: gzipRatio } })}\n`,
    );
    deps.s3.destroy();
    await stop();
    process.exit(rssRatio <= 1.3 && rawRatio >= 0.7 ? 0 : 1);
  } catch (error) {
    process.stderr.write(`bench:export failed: ${(error as Error).stack ?? String(error)}\n`);
    await stop();
    process.exit(1);
  }
}

if (process.argv[2] === 'child') {
  setInterval(sampleMemory, 100).unref();
  const [mode, a, b] = process.argv.slice(3);
  const run = mode === 'export' ? childExport(a as string, b as string) : mode === 'raw' ? childRawRead(a as string) : childGzip(a as string, Number(b));
  run.then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exit(1);
    },
  );
} else {
  void main();
}
