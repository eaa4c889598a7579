/**
 * Lambda bundles: the minified size of each deployed function's bundle and its cold init.
 *
 *   npm run bench:bundles
 *
 * The bundles are the stack's own: the app is synthesized as `cdk synth` does (buildApp, the project's
 * cdk.json context, bundling on), so every HandlerFunction is bundled by NodejsFunction with the options of
 * infra/constructs/handler-function.ts, into build/bench-bundles/. For each function:
 *   - bytes: the size of its index.js (the source map beside it is not counted; it is read only when the
 *     function runs with --enable-source-maps, which the cold init below includes);
 *   - lazy bytes: the SDK files beside index.js that it requires on first use (LAZY_CHUNKS of
 *     infra/constructs/handler-function.ts: stripe-sdk.js, pinecone-sdk.js, s3-transfer-sdk.js); in the package, not in the cold
 *     start. What requiring each costs, the first call that needs it, is printed below the table;
 *   - cold init: a fresh `node` process requires index.js with the function's own NODE_OPTIONS and its plain
 *     environment variables, and reports what the require cost (around it, so node's own start-up is not
 *     counted): CPU time (user + system, process.cpuUsage) and wall time (process.hrtime); the median of
 *     BENCH_RUNS (default 5) processes. The goal is checked on CPU time: on this machine (2 cores shared by
 *     several jobs, load average often 10+) wall time mostly measures the wait for a core and varies several
 *     fold between runs, while CPU time is the work the require does and repeats within a few ms.
 * Modules the bundle leaves external (the AWS SDK v3, which the Lambda Node.js runtime provides from
 * /var/runtime/node_modules) are resolved from this repository's node_modules, as the runtime resolves them
 * from its own copy, so their load time is counted too.
 * A baseline in the same run: a fresh node requiring an empty module, to read the figures against this
 * machine's noise (2 shared cores). The figures are from this machine's node (`process.version`), not Lambda's
 * Node.js 24 on arm64.
 *
 * Goal (issue 7): every bundle at most 500 KB and every cold init at most 100 ms; a row that misses it is
 * marked, and the process exits 1 if any does.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import type { Asset } from 'aws-cdk-lib/aws-s3-assets';
import { buildApp } from '../infra/app';
import { HandlerFunction, REPO_ROOT } from '../infra/constructs/handler-function';
import { applyLoopbackEnvironment } from '../infra/local/loopback-env';

applyLoopbackEnvironment();

const OUT_ROOT = path.join(REPO_ROOT, 'build', 'bench-bundles');
const RUNS = Math.max(1, Math.round(Number(process.env.BENCH_RUNS ?? 5)));
const MAX_BYTES = 500 * 1024;
const MAX_INIT_MS = 100;

/** The project's own context (feature flags) from cdk.json, as the CLI passes it. */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context: Record<string, unknown> }).context;

interface Bundle {
  /** The function's construct path below the stack, e.g. Api/GetTenantFunction. */
  readonly name: string;
  readonly file: string;
  /** The function's environment variables that are plain strings (references to other resources are left out). */
  readonly environment: Record<string, string>;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Synthesize the app with bundling on and list every HandlerFunction's bundle. */
function synthesizeBundles(): Bundle[] {
  rmSync(OUT_ROOT, { recursive: true, force: true });
  const outdir = path.join(OUT_ROOT, 'cdk.out');
  // An environment-agnostic stack: bundling does not depend on the environment. No cdk-nag: not measured here.
  const { app, stack } = buildApp({ outdir, context: { ...CDK_JSON_CONTEXT }, nag: false, variables: {} });
  app.synth();
  const handlers = stack.node.findAll().filter((construct): construct is HandlerFunction => construct instanceof HandlerFunction);
  return handlers.map((handler) => {
    const asset = handler.function.node.findChild('Code') as Asset;
    const cfn = Stack.of(handler).resolve((handler.function.node.defaultChild as { environment?: unknown }).environment) as
      | { variables?: Record<string, unknown> }
      | undefined;
    const environment = Object.fromEntries(Object.entries(cfn?.variables ?? {}).filter((entry): entry is [string, string] => typeof entry[1] === 'string'));
    return { name: handler.node.path.slice(stack.node.path.length + 1), file: path.join(outdir, asset.assetPath, 'index.js'), environment };
  });
}

/** What a fresh node's require of `file` costs, median of RUNS each, with `environment` added to this process's. */
function coldInit(file: string, environment: Record<string, string>): { cpuMs: number; wallMs: number } {
  const script =
    'const c=process.cpuUsage(),t=process.hrtime.bigint();require(process.argv[1]);' +
    'const w=Number(process.hrtime.bigint()-t)/1e6,u=process.cpuUsage(c);process.stdout.write(JSON.stringify({cpuMs:(u.user+u.system)/1e3,wallMs:w}))';
  const runs: { cpuMs: number; wallMs: number }[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    const child = spawnSync(process.execPath, ['-e', script, file], {
      env: { ...process.env, NODE_OPTIONS: '', ...environment },
      encoding: 'utf8',
    });
    if (child.status !== 0) throw new Error(`Requiring ${file} failed:\n${child.stderr}`);
    runs.push(JSON.parse(child.stdout) as { cpuMs: number; wallMs: number });
  }
  return { cpuMs: median(runs.map((run) => run.cpuMs)), wallMs: median(runs.map((run) => run.wallMs)) };
}

function main(): void {
  const started = Date.now();
  const bundles = synthesizeBundles();
  const synthSeconds = (Date.now() - started) / 1000;

  const emptyModule = path.join(OUT_ROOT, 'empty.js');
  mkdirSync(OUT_ROOT, { recursive: true });
  writeFileSync(emptyModule, '');
  const baseline = coldInit(emptyModule, {});

  /** The lazy chunks beside each index.js: file name → path of one copy (they are built alike for every function). */
  const chunks = new Map<string, string>();
  const rows = bundles.map((bundle) => {
    const bytes = statSync(bundle.file).size;
    const dir = path.dirname(bundle.file);
    const lazy = readdirSync(dir).filter((file) => file.endsWith('.js') && file !== 'index.js');
    for (const file of lazy) chunks.set(file, path.join(dir, file));
    const lazyBytes = lazy.reduce((sum, file) => sum + statSync(path.join(dir, file)).size, 0);
    const init = coldInit(bundle.file, bundle.environment);
    return { ...bundle, bytes, lazyBytes, lazy, ...init, ok: bytes <= MAX_BYTES && init.cpuMs <= MAX_INIT_MS };
  });

  console.log(`Lambda bundles as the stack builds them (${bundles.length} functions, synthesized and bundled in ${synthSeconds.toFixed(0)} s)`);
  console.log(`cold init: median of ${RUNS} fresh \`node\` ${process.version} processes requiring the bundle with its NODE_OPTIONS`);
  console.log(`baseline (an empty module): ${baseline.cpuMs.toFixed(1)} ms CPU, ${baseline.wallMs.toFixed(1)} ms wall; load average ${loadavg()[0]?.toFixed(1)} on ${cpus().length} cores`);
  console.log(`goal: bundle <= ${MAX_BYTES / 1024} KB, cold init <= ${MAX_INIT_MS} ms (CPU)\n`);
  const width = Math.max(...rows.map((row) => row.name.length));
  console.log(`${'function'.padEnd(width)}  ${'bundle KB'.padStart(9)}  ${'init CPU ms'.padStart(11)}  ${'init wall ms'.padStart(12)}  goal    ${'lazy KB'.padStart(7)}  lazy files`);
  for (const row of rows.sort((a, b) => b.bytes - a.bytes)) {
    console.log(
      `${row.name.padEnd(width)}  ${(row.bytes / 1024).toFixed(0).padStart(9)}  ${row.cpuMs.toFixed(1).padStart(11)}  ${row.wallMs.toFixed(1).padStart(12)}  ${(row.ok ? 'ok' : 'MISSED').padEnd(6)}  ${(row.lazyBytes / 1024).toFixed(0).padStart(7)}  ${row.lazy.join(', ')}`,
    );
  }
  for (const [file, chunk] of chunks) {
    const load = coldInit(chunk, { NODE_OPTIONS: '--enable-source-maps' });
    console.log(`first use of ${file} (${(statSync(chunk).size / 1024).toFixed(0)} KB): ${load.cpuMs.toFixed(1)} ms CPU, ${load.wallMs.toFixed(1)} ms wall to require it, once per container`);
  }
  const missed = rows.filter((row) => !row.ok).length;
  console.log(`\n${rows.length - missed} of ${rows.length} within the goal`);
  if (missed > 0) process.exitCode = 1;
}

main();
