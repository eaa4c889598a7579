/** The hard delete's execution name: Step Functions' rules, deterministic per firing, distinct across firings. */
import { EXECUTION_NAME_MAX, hardDeleteInput, hardDeleteOperationId, startHardDelete } from '../../../functions/deletion/start-hard-delete';
import { RecordingRunner } from '../../support/recording-runner';

const BASE = { tenantId: 'acme-corp', trigger: 'deadline', scheduledAt: new Date('2026-12-31T09:00:00.000Z'), deletionRequestedAt: '2026-12-01T09:00:00.000Z' } as const;
const LONGEST = `a${'b'.repeat(61)}c`; // 63 characters, the longest tenant id

describe('hardDeleteOperationId', () => {
  test('is a Step Functions execution name: at most 80 of [A-Za-z0-9-_], for the longest tenant id and every trigger', () => {
    for (const trigger of ['deadline', 'enforcement-check', 'sweeper', 'hold-released'] as const) {
      for (const tenantId of ['a1', 'acme-corp', LONGEST]) {
        const name = hardDeleteOperationId({ ...BASE, trigger, tenantId });
        expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(name.length).toBeLessThanOrEqual(EXECUTION_NAME_MAX);
      }
    }
    expect(hardDeleteOperationId(BASE)).toBe(`hd-dl-20261231T090000Z-${hardDeleteOperationId(BASE).split('-')[3]}-acme-corp`);
  });

  test('is the same for the same firing (sub-second parts dropped) and differs for any other firing', () => {
    const name = hardDeleteOperationId(BASE);
    expect(hardDeleteOperationId({ ...BASE, scheduledAt: new Date('2026-12-31T09:00:00.789Z') })).toBe(name);
    const others = [
      { ...BASE, trigger: 'sweeper' as const },
      { ...BASE, scheduledAt: new Date('2026-12-31T09:00:01.000Z') },
      { ...BASE, deletionRequestedAt: '2026-11-01T09:00:00.000Z' },
      { ...BASE, tenantId: 'acme-corp2' },
    ].map(hardDeleteOperationId);
    expect(new Set([name, ...others]).size).toBe(5);
  });

  test('two long tenant ids that share their first characters get different names', () => {
    const a = hardDeleteOperationId({ ...BASE, tenantId: `${'x'.repeat(60)}-aa` });
    const b = hardDeleteOperationId({ ...BASE, tenantId: `${'x'.repeat(60)}-bb` });
    expect(a).not.toBe(b);
    expect(a.length).toBe(EXECUTION_NAME_MAX);
  });
});

describe('startHardDelete', () => {
  test('starts the hard-delete workflow with its input as the operation, under its operationId', async () => {
    const runner = new RecordingRunner();
    const input = await startHardDelete({ runner }, BASE);
    expect(input).toEqual({ ...hardDeleteInput(BASE), scheduledAt: '2026-12-31T09:00:00.000Z' });
    expect(runner.executions).toEqual([{ workflow: 'hard-delete', name: input.operationId, input: { operation: input } }]);
  });
});
