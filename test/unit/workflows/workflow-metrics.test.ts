/**
 * The workflow metrics' arithmetic (durations, oldest unfinished ages) and README's metrics table, which must
 * name every metric the functions emit. The EMF documents themselves: test/integration/lifecycle-metrics.test.ts.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { COMPLIANCE_VIOLATIONS_METRIC, TRANSITIONS_METRIC } from '../../../functions/tenants/tenant-store';
import { HARD_DELETE_WORKFLOW } from '../../../functions/deletion/hard-delete-definition';
import { DELETION_SWEEP_METRICS } from '../../../functions/deletion/sweep-deletions';
import { DUE_SOON_SECONDS, WORKFLOW_METRICS, nearDueCounts, oldestUnfinishedAges, workflowDurationMs } from '../../../functions/workflows/workflow-metrics';

describe('Function: workflowDurationMs', () => {
  it('should give the milliseconds from start to end, never negative', () => {
    expect(workflowDurationMs({ startedAt: '2026-11-01T10:00:00.000Z', finishedAt: '2026-11-01T10:00:01.250Z' })).toBe(1250);
    // Two writers' clocks may differ by a few milliseconds.
    expect(workflowDurationMs({ startedAt: '2026-11-01T10:00:00.005Z', finishedAt: '2026-11-01T10:00:00.000Z' })).toBe(0);
  });
});

describe('Function: oldestUnfinishedAges', () => {
  const now = new Date('2026-11-01T11:00:00.000Z');

  it('should give each workflow the age in whole seconds of its oldest unfinished operation, from its start, else its creation', async () => {
    // Arrange: as the index returns them, oldest claim first (a compensating one is sorted by its claim).
    const unfinished = [
      { workflow: 'plan-change', createdAt: '2026-11-01T10:50:00.000Z', startedAt: '2026-11-01T10:50:00.000Z' },
      { workflow: 'export', createdAt: '2026-11-01T10:30:00.400Z' },
      { workflow: 'plan-change', createdAt: '2026-10-31T09:00:00.000Z', startedAt: '2026-11-01T10:40:00.000Z' },
    ];
    const before = jest.fn(async () => unfinished);

    // Act
    const ages = await oldestUnfinishedAges({ unfinishedBefore: before }, ['plan-change', 'export', 'hard-delete'], now);

    // Assess
    expect(ages).toEqual({ 'plan-change': 1200, export: 1799, 'hard-delete': 0 });
    expect(before).toHaveBeenCalledWith(now, 500);
  });

  it('should ignore operations of workflows it was not asked about', async () => {
    const ages = await oldestUnfinishedAges({ unfinishedBefore: async () => [{ workflow: 'other', createdAt: '2026-11-01T00:00:00.000Z' }] }, ['plan-change'], now);
    expect(ages).toEqual({ 'plan-change': 0 });
  });
});

describe('Function: nearDueCounts', () => {
  it('should count per workflow the unfinished operations due within 7 days or past due, and only those with a due date', () => {
    const now = new Date('2026-11-20T00:00:00.000Z');
    const at = (seconds: number) => new Date(now.getTime() + seconds * 1000).toISOString();
    const unfinished = [
      { workflow: 'export', input: { dueAt: at(DUE_SOON_SECONDS + 1) } },
      { workflow: 'export', input: { dueAt: at(DUE_SOON_SECONDS) } },
      { workflow: 'export', input: { dueAt: at(-60) } },
      { workflow: 'plan-change', input: { toPlan: 'professional' } },
      { workflow: 'other', input: { dueAt: at(0) } },
    ];

    expect(nearDueCounts(unfinished, ['plan-change', 'export'], now)).toEqual({ 'plan-change': 0, export: 2 });
  });
});

describe("README's metrics table", () => {
  it('should list every metric the functions emit', () => {
    const readme = readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    const listed = [...readme.matchAll(/^\| `(\w+)` \| (?:Count|Milliseconds|Seconds)/gm)].map((match) => match[1]);
    expect(listed.sort()).toEqual(
      [TRANSITIONS_METRIC, 'TransitionLatency', ...Object.values(WORKFLOW_METRICS), COMPLIANCE_VIOLATIONS_METRIC, HARD_DELETE_WORKFLOW.failureAlarm.metric, ...Object.values(DELETION_SWEEP_METRICS)].sort(),
    );
  });
});
