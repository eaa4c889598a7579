/**
 * One real `npm start` (its own ports and data folder), checked as a user sees it: a second copy over the
 * same data folder refuses with one line; every request and every workflow outcome is a line of its output;
 * DynamoDB Local runs with telemetry disabled and writes no metadata file into the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { NpmStart, REPO_ROOT, processTable } from '../../support/npm-start';

let instance: NpmStart;
let url: string;
let operatorToken: string;
let acmeToken: string;

beforeAll(async () => {
  instance = await NpmStart.spawn();
  await instance.ready();
  url = `http://127.0.0.1:${instance.apiPort}`;
  operatorToken = /export TOKEN=(\S+)/.exec(instance.stdout)?.[1] as string;
  acmeToken = /export ACME_TOKEN=(\S+)/.exec(instance.stdout)?.[1] as string;
}, 120_000);

afterAll(() => instance?.cleanup());

/** Resolves with the first line of the instance's output (from `from` on) that matches, or fails after `ms`. */
async function outputLine(pattern: RegExp, from: number, ms = 15_000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const line = instance.stdout.slice(from).split('\n').find((candidate) => pattern.test(candidate));
    if (line) return line;
    if (Date.now() > deadline) throw new Error(`No line matching ${pattern} in:\n${instance.stdout.slice(from)}`);
    await sleep(100);
  }
}

describe('npm start: one copy per data folder', () => {
  it('should refuse a second copy over the same data folder with one line naming the folder and --data-dir, and leave the first running', async () => {
    const second = await NpmStart.spawn({ dataDir: instance.dataDir });
    let code: number | null;
    try {
      code = await Promise.race([second.exited, sleep(30_000).then(() => 'still running' as never)]);
    } finally {
      second.cleanup();
    }
    const stderr = second.stderr;
    const lines = stderr.trim().split('\n');
    expect({ code, lines: lines.length }).toEqual({ code: 1, lines: 1 });
    expect(lines[0]).toContain(instance.dataDir);
    expect(lines[0]).toContain('--data-dir');
    expect(lines[0]).toContain('LOCAL_DATA_DIR');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
  }, 60_000);
});

describe('npm start: its log', () => {
  it('should print one line per request: method, path, status, ms and caller (anonymous without a valid token)', async () => {
    const from = instance.stdout.length;
    await fetch(`${url}/health`);
    await fetch(`${url}/tenants?limit=1`, { headers: { authorization: `Bearer ${operatorToken}` } });
    await fetch(`${url}/tenants/techstart-inc`, { headers: { authorization: `Bearer ${acmeToken}` } });
    await fetch(`${url}/tenants`, { headers: { authorization: 'Bearer eyJ.not.valid' } });

    expect(await outputLine(/^GET \/health /, from)).toMatch(/^GET \/health 200 \d+ms anonymous$/);
    expect(await outputLine(/^GET \/tenants 200/, from)).toMatch(/^GET \/tenants 200 \d+ms operator:\S+@\S+$/);
    expect(await outputLine(/^GET \/tenants 200/, from)).toContain(`operator:${userInfo().username}@${hostname()}`);
    expect(await outputLine(/^GET \/tenants\/techstart-inc /, from)).toMatch(/^GET \/tenants\/techstart-inc 403 \d+ms tenant:acme-corp-app@\S+$/);
    expect(await outputLine(/^GET \/tenants 401/, from)).toMatch(/^GET \/tenants 401 \d+ms anonymous$/);
  });

  it('should print one line when a workflow rolls back: operation, tenant, status and cause', async () => {
    const json = { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' };
    // A query holding its lease past a 1 s drain timeout: the upgrade rolls back with DrainTimeoutError.
    const lease = await fetch(`${url}/tenants/acme-corp/leases`, { method: 'POST', headers: { ...json, authorization: `Bearer ${acmeToken}` }, body: '{"ttlSeconds":60}' });
    expect(lease.status).toBe(201);
    const change = await fetch(`${url}/tenants/acme-corp/plan`, { method: 'POST', headers: json, body: '{"plan":"professional","drainTimeoutSeconds":1}' });
    const { operationId } = (await change.json()) as { operationId: string };
    expect(change.status).toBe(202);

    const line = await outputLine(new RegExp(`^workflow plan-change ${operationId} `), 0, 30_000);
    expect(line).toMatch(new RegExp(`^workflow plan-change ${operationId} tenant=acme-corp rolled_back cause=DrainTimeoutError: 1 in-flight query still holds its lease after the drain timeout of 1 s`));
  }, 45_000);
});

describe('npm start: DynamoDB Local telemetry', () => {
  it('should run the JVM with -disableTelemetry, and leave no metadata file with telemetry on in the repository or the data folder', async () => {
    const { jvm } = instance.processes();
    expect(processTable().find((entry) => entry.pid === jvm)?.args).toContain(' -disableTelemetry');

    process.kill(instance.processes().npm, 'SIGINT');
    expect((await instance.waitUntilStopped([jvm], 5_000)).left).toEqual([]);
    for (const dir of [REPO_ROOT, instance.dataDir, join(instance.dataDir, 'dynamodb')]) {
      const file = join(dir, 'dynamodb-local-metadata.json');
      expect({ file, telemetry: existsSync(file) ? readFileSync(file, 'utf8') : 'absent' }).toEqual({ file, telemetry: 'absent' });
    }
  });
});
