/**
 * The local stack of `npm start -- --clock=simulated`, run in this process: README.md's clock walk-through run as
 * written (a period-end downgrade scheduled, the clock moved past the period end, the downgrade fired at once and
 * completed), the sweepers run at the moved time (a lost schedule caught by the advance), and the wall clock back
 * once the stack stops. DynamoDB
 * Local and the S3 server are the stack's own (free ports, a temporary folder), stopped in afterAll.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { reservePort } from '../../../infra/local/dynamodb-local';
import { startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as clock from '../../../functions/shared/clock';
import { LOCAL_TABLE_NAME } from '../../../infra/local/local-settings';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'clock-walkthrough-'));
const lines: string[] = [];
const errors: string[] = [];
let stack: (LocalStackInfo & { stop(): Promise<void> }) | undefined;

interface Step {
  readonly command: string;
  readonly expected?: string;
}

/** Every README block marked `<!-- clock-walkthrough...:start -->`: its command lines, each with its `#=>` line if any. */
function clockWalkthroughs(): Array<{ name: string; steps: Step[] }> {
  const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  return [...readme.matchAll(/<!-- (clock-walkthrough[\w-]*):start -->([\s\S]*?)<!-- \1:end -->/g)].map(([, name, block]) => {
    const steps: Step[] = [];
    for (const line of (block as string).split('\n')) {
      if (line.startsWith('#=> ') && steps.length > 0) steps[steps.length - 1] = { ...(steps[steps.length - 1] as Step), expected: line.slice(4) };
      else if (line.trim() !== '' && !line.startsWith('```') && !line.startsWith('#')) steps.push({ command: line });
    }
    return { name: name as string, steps };
  });
}

/** Run the steps in one shell (variables carry over, as in a terminal); answer each step's output. */
async function runInOneShell(steps: readonly Step[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const marker = '<<<step-done>>>';
  const script = ['set -e', ...steps.flatMap((step) => [step.command, `echo; echo '${marker}'`])].join('\n');
  const { stdout } = await run('bash', ['-c', script], { env, timeout: 120_000 });
  return stdout.split(`${marker}\n`).slice(0, steps.length);
}

async function get(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack?.url}${path}`, { headers: { authorization: `Bearer ${stack?.tokens.operator}` } });
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  const dynamoPort = await reservePort(0, 'the test DynamoDB Local');
  stack = await startLocalStack({ apiPort: 0, dynamoPort, dataDir: join(root, 'data'), reset: true, clock: 'simulated', log: (line) => lines.push(line), logError: (line) => errors.push(line) });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  rmSync(root, { recursive: true, force: true });
}, 30_000);

describe('npm start -- --clock=simulated', () => {
  it('should print how to move the clock in its banner', () => {
    expect(stack?.clock).toBe('simulated');
    expect(lines.join('\n')).toContain('Clock            simulated: curl -s -X POST "$API/_local/clock"');
  });

  it("should run README.md's clock walk-through as written: the period-end downgrade fires on the advance and completes", async () => {
    const walkthroughs = clockWalkthroughs();
    expect(walkthroughs.map(({ name }) => name)).toContain('clock-walkthrough');
    const env = { ...process.env, API: stack?.url, TOKEN: stack?.tokens.operator, ACME_TOKEN: stack?.tokens.acme };
    for (const { name, steps } of walkthroughs) {
      expect(steps.filter((step) => step.expected !== undefined).length).toBeGreaterThanOrEqual(5);
      const outputs = await runInOneShell(steps, env);
      steps.forEach((step, i) => {
        if (step.expected !== undefined) expect({ name, command: step.command, output: outputs[i] }).toEqual({ name, command: step.command, output: expect.stringContaining(step.expected) });
      });
    }
    // What the walk-through showed, checked on the stack itself: the tenant downgraded, its operation succeeded
    // with the billing period reached, on the moved clock.
    const tenant = await get('/tenants/acme-corp');
    expect([tenant.state, tenant.plan, tenant.scheduledPlanChange]).toEqual(['active', 'free', undefined]);
    const [entry] = (await get('/tenants/acme-corp/history?limit=1')).items as Array<{ operationId: string; at?: string }>;
    const operation = await get(`/operations/${entry?.operationId}`);
    expect(operation).toMatchObject({ status: 'succeeded', steps: expect.arrayContaining(['period_end_reached']) });
    expect(lines.some((line) => new RegExp(`^workflow plan-change ${entry?.operationId} tenant=acme-corp succeeded`).test(line))).toBe(true);
    const reading = await get('/_local/clock');
    expect(reading.simulated).toBe(true);
    expect(Date.parse(reading.now as string)).toBeGreaterThan(Date.parse(operation.effectiveAt as string));
    expect(errors).toEqual([]);
  }, 150_000);

  it('should run the sweepers at the moved time: a downgrade whose schedule was lost is started by the advance past its period end', async () => {
    const post = async (path: string, body: unknown) => {
      const response = await fetch(`${stack?.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${stack?.tokens.operator}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect((await post('/tenants', { tenantId: 'lost-schedule', name: 'Lost Schedule', email: 'ops@lost.example', plan: 'professional' })).status).toBe(201);
    const scheduled = await post('/tenants/lost-schedule/plan', { plan: 'starter', effective: 'period_end' });
    expect([scheduled.status, scheduled.body.status]).toEqual([202, 'scheduled']);
    const operationId = scheduled.body.operationId as string;
    // The schedule is lost (deleted by hand, say): only the sweeper can start the change now.
    // (Imported here: the stack sets the configuration the functions' modules read once, at import.)
    const [{ planChangeScheduleName }, { LocalScheduler }] = await Promise.all([import('../../../functions/plan-change/plan-change-steps'), import('../../../functions/scheduler/local-scheduler')]);
    const client = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: stack?.dynamoEndpoint, region: process.env.AWS_REGION }));
    await new LocalScheduler({ client, tableName: LOCAL_TABLE_NAME }).cancel(planChangeScheduleName(operationId));
    client.destroy();

    const stackNow = Date.parse((await get('/_local/clock')).now as string);
    const advanceSeconds = Math.ceil((Date.parse(scheduled.body.effectiveAt as string) - stackNow) / 1000) + 60;
    const advanced = await post('/_local/clock', { advanceSeconds });

    expect(advanced.status).toBe(200);
    expect(advanced.body).toMatchObject({ schedules: { fired: [] }, sweeps: { operations: { overdueStarted: [operationId], failed: [] } }, workflowsSettled: true });
    expect(await get(`/operations/${operationId}`)).toMatchObject({ status: 'succeeded' });
    expect(await get('/tenants/lost-schedule')).toMatchObject({ state: 'active', plan: 'starter' });
  }, 120_000);

  it('should put the wall clock back when the stack stops', async () => {
    expect(clock.now().getTime() - Date.now()).toBeGreaterThan(60_000);
    await stack?.stop();
    expect(Math.abs(clock.now().getTime() - Date.now())).toBeLessThan(1000);
  }, 30_000);
});
