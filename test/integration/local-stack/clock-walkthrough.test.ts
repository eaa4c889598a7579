/**
 * The local stack of `npm start -- --clock=simulated`, run in this process: README.md's clock walk-throughs run as
 * written (a period-end downgrade scheduled, the clock moved past the period end, the downgrade fired at once and
 * completed; a soft delete moved past its deadline, the hard delete fired, the tenant a tombstone with its
 * certificate; a legal hold that stops the firing, then its release and the delete; a win-back with data and a
 * deleted tenant's fresh start), the sweepers run at the moved
 * time (a lost schedule caught by the advance), and the wall clock back once the stack stops. DynamoDB
 * Local and the S3 server are the stack's own (free ports, a temporary folder), stopped in afterAll.
 */
import { execFile } from 'node:child_process';
import { testPort } from '../../support/test-port';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startLocalStack, type LocalStackInfo } from '../../../infra/local/local-stack';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as clock from '../../../functions/shared/clock';
import { LOCAL_TABLE_NAME } from '../../../infra/local/local-settings';
import { certificateHash, type DeletionCertificate } from '../../../functions/deletion/deletion-certificate';

const run = promisify(execFile);
const root = mkdtempSync(join(tmpdir(), 'clock-walkthrough-'));
const lines: string[] = [];
const errors: string[] = [];
let stack: (LocalStackInfo & { stop(): Promise<void> }) | undefined;

interface Step {
  readonly command: string;
  readonly expected?: string;
}

/** Every README block marked `<!-- ...walkthrough...:start -->`: its command lines, each with its `#=>` line if any. */
function readmeWalkthroughs(): Array<{ name: string; steps: Step[] }> {
  const readme = readFileSync(join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
  return [...readme.matchAll(/<!-- ((?:clock-)?walkthrough[\w-]*):start -->([\s\S]*?)<!-- \1:end -->/g)].map(([, name, block]) => {
    const steps: Step[] = [];
    for (const line of (block as string).split('\n')) {
      if (line.startsWith('#=> ') && steps.length > 0) steps[steps.length - 1] = { ...(steps[steps.length - 1] as Step), expected: line.slice(4) };
      else if (line.trim() !== '' && !line.startsWith('```') && !line.startsWith('#')) steps.push({ command: line });
    }
    return { name: name as string, steps };
  });
}

/** The clock walk-throughs (`<!-- clock-walkthrough...:start -->`). */
function clockWalkthroughs(): Array<{ name: string; steps: Step[] }> {
  return readmeWalkthroughs().filter(({ name }) => name.startsWith('clock-'));
}

/** Run the steps in one shell (variables carry over, as in a terminal); answer each step's output. */
async function runInOneShell(steps: readonly Step[], env: NodeJS.ProcessEnv): Promise<string[]> {
  const marker = '<<<step-done>>>';
  const script = ['set -e', ...steps.flatMap((step) => [step.command, `echo; echo '${marker}'`])].join('\n');
  const { stdout } = await run('bash', ['-c', script], { env, timeout: 120_000 });
  return stdout.split(`${marker}\n`).slice(0, steps.length);
}

/** Run README.md's walk-through `name` in one shell with the banner's variables; every `#=>` must be in its step's output. */
async function runWalkthrough(name: string): Promise<void> {
  const walkthrough = readmeWalkthroughs().find((candidate) => candidate.name === name);
  expect(walkthrough?.steps.filter((step) => step.expected !== undefined).length).toBeGreaterThanOrEqual(5);
  const steps = walkthrough?.steps ?? [];
  const outputs = await runInOneShell(steps, { ...process.env, API: stack?.url, TOKEN: stack?.tokens.operator, ACME_TOKEN: stack?.tokens.acme });
  steps.forEach((step, i) => {
    if (step.expected !== undefined) expect({ name, command: step.command, output: outputs[i] }).toEqual({ name, command: step.command, output: expect.stringContaining(step.expected) });
  });
}

async function get(path: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${stack?.url}${path}`, { headers: { authorization: `Bearer ${stack?.tokens.operator}` } });
  return (await response.json()) as Record<string, unknown>;
}

beforeAll(async () => {
  const dynamoPort = await testPort('the test DynamoDB Local');
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

  it('should find every clock walk-through of README.md: the downgrade, the deletion, the legal hold and the reactivation', () => {
    expect(clockWalkthroughs().map(({ name }) => name)).toEqual(['clock-walkthrough', 'clock-walkthrough-deletion', 'clock-walkthrough-legal-hold', 'clock-walkthrough-reactivation']);
  });

  it("should run README.md's first walk-through as written with the tokens npm start printed (JWTs of its issuer)", async () => {
    await runWalkthrough('walkthrough');
    expect(errors).toEqual([]);
  }, 60_000);

  it("should run README.md's clock walk-through as written: the period-end downgrade fires on the advance and completes", async () => {
    await runWalkthrough('clock-walkthrough');
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

  it("should run README.md's deletion walk-through as written: the hard delete fires at the deadline and leaves the tombstone and a certificate", async () => {
    await runWalkthrough('clock-walkthrough-deletion');
    // Checked on the stack: a tombstone (no name, email, plan or usage left), a certificate whose sha256 is its own
    // content's, written on time by the deadline's firing, every source verified empty, and the documents gone.
    const tombstone = await get('/tenants/techstart-inc');
    expect(tombstone).toMatchObject({ state: 'deleted', deletionCertificateId: expect.any(String) });
    const certificate = (await get('/tenants/techstart-inc/deletion-certificate')) as unknown as DeletionCertificate;
    expect(Object.keys(tombstone).filter((key) => key !== 'allowedEvents').sort()).toEqual([...certificate.tombstoneFields].sort());
    expect(certificate.tombstoneFields).not.toEqual(expect.arrayContaining(['name']));
    expect(certificate.certificateId).toBe(tombstone.deletionCertificateId);
    expect(certificate.sha256).toBe(certificateHash(certificate));
    expect(certificate).toMatchObject({ trigger: { kind: 'deadline' }, timeliness: { onTime: true }, billingCustomer: { deleted: true } });
    expect(certificate.sources.map((source) => source.verification.result).every((result) => result === 'empty')).toBe(true);
    expect(certificate.sources.find((source) => source.source === 'documents')).toMatchObject({ before: 3, deleted: 3 });
    expect(Date.parse(certificate.completedAt)).toBeGreaterThanOrEqual(Date.parse(certificate.window.opensAt));
    expect(Date.parse(certificate.completedAt)).toBeLessThanOrEqual(Date.parse(certificate.window.closesAt));
    expect(lines.some((line) => line.startsWith(`workflow hard-delete ${certificate.operationId} tenant=techstart-inc succeeded`))).toBe(true);
    expect(errors).toEqual([]);
  }, 150_000);

  it("should run README.md's legal-hold walk-through as written: the held firing deletes nothing, the release deletes", async () => {
    await runWalkthrough('clock-walkthrough-legal-hold');
    const certificate = (await get('/tenants/suspended-co/deletion-certificate')) as unknown as DeletionCertificate;
    expect(certificate.sha256).toBe(certificateHash(certificate));
    expect(certificate.legalHolds).toEqual([
      expect.objectContaining({ event: 'place_legal_hold', reason: expect.stringContaining('litigation hold: case 2026-114') }),
      expect.objectContaining({ event: 'release_legal_hold', reason: 'case settled' }),
    ]);
    expect(lines.some((line) => /^workflow hard-delete \S+ tenant=suspended-co cancelled cause=LEGAL_HOLD/.test(line))).toBe(true);
    const history = (await get('/tenants/suspended-co/history?limit=4')).items as Array<{ event: string }>;
    expect(history.map(({ event }) => event)).toEqual(['complete_deletion', 'start_hard_delete', 'release_legal_hold', 'place_legal_hold']);
    expect(errors).toEqual([]);
  }, 150_000);

  it("should run README.md's reactivation walk-through as written: a soft-deleted tenant back with its documents, a deleted one refused a restore then started fresh", async () => {
    await runWalkthrough('clock-walkthrough-reactivation');
    const { S3Client } = await import('@aws-sdk/client-s3');
    const [{ DocumentsSource }, { localS3ClientConfig }, { LOCAL_DOCUMENTS_BUCKET }] = await Promise.all([
      import('../../../functions/data-sources/documents-source'),
      import('../../../infra/local/s3-local'),
      import('../../../infra/local/local-settings'),
    ]);
    const s3 = new S3Client(localS3ClientConfig(stack?.s3Endpoint as string));
    const documents = new DocumentsSource({ s3: () => s3, bucket: LOCAL_DOCUMENTS_BUCKET });
    expect(await get('/tenants/enterprise-solutions')).toMatchObject({ state: 'active', plan: 'professional' });
    expect(await documents.count('enterprise-solutions')).toBe(3);
    const techstart = await get('/tenants/techstart-inc');
    expect(techstart).toMatchObject({ state: 'active', plan: 'starter', name: 'TechStart Inc' });
    expect(['deletion', 'deletedAt', 'deletionCertificateId'].filter((field) => field in techstart)).toEqual([]);
    expect(await documents.count('techstart-inc')).toBe(0);
    s3.destroy();
    const history = (await get('/tenants/techstart-inc/history?limit=3')).items as Array<{ event: string }>;
    expect(history.map(({ event }) => event)).toEqual(['complete_reactivation', 'reactivate_deleted', 'complete_deletion']);
    expect(lines.some((line) => /^workflow reactivation \S+ tenant=enterprise-solutions succeeded/.test(line))).toBe(true);
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
