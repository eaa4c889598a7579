/**
 * README.md's curl walk-through, run as written against the local API with the demo tenants seeded:
 * each `curl` line of the marked block must answer with the text its `#=>` line gives.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { seedDemoTenants } from '../../infra/local/demo-tenants';
import { ApiHarness } from '../support/api-harness';

const run = promisify(execFile);
const api = new ApiHarness();

function walkthrough(): Array<{ command: string; expected: string }> {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const block = /<!-- walkthrough:start -->([\s\S]*?)<!-- walkthrough:end -->/.exec(readme)?.[1] ?? '';
  const steps: Array<{ command: string; expected: string }> = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('curl ')) steps.push({ command: line, expected: '' });
    else if (line.startsWith('#=> ') && steps.length > 0) (steps[steps.length - 1] as { expected: string }).expected = line.slice(4);
  }
  return steps;
}

beforeAll(async () => {
  await api.start();
  await seedDemoTenants(api.store);
});
afterAll(() => api.stop());

describe('README: the curl walk-through', () => {
  const steps = walkthrough();

  it('should have the walk-through block, every command with its expected answer', () => {
    expect(steps.length).toBeGreaterThanOrEqual(8);
    for (const step of steps) expect(step.expected).not.toBe('');
  });

  // Twice against the same stack: a reader runs it again without `npm start -- --reset`.
  it.each([1, 2])('should work as written, step by step (run %i on the same data)', async (run_) => {
    const env = { ...process.env, API: api.url, TOKEN: api.operatorToken, ACME_TOKEN: api.tenantToken('acme-corp') };
    for (const { command, expected } of steps) {
      const { stdout } = await run('bash', ['-c', command], { env });
      expect({ run: run_, command, stdout }).toEqual({ run: run_, command, stdout: expect.stringContaining(expected) });
    }
  });
});
