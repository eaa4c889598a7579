/**
 * A forced plan change's drain step against fake ports: what it revokes and records when the execution carries
 * no facts (a redelivered or restarted execution), and what the commit's history entry says then.
 */
import { forcedContext, forcedSummary, runPlanChangeStep, type PlanChangeDependencies, type PlanChangeInput } from '../../../functions/plan-change/plan-change-steps';

const input: PlanChangeInput = {
  operationId: 'op_forced',
  tenantId: 'acme-corp',
  direction: 'upgrade',
  fromPlan: 'starter',
  toPlan: 'professional',
  timing: 'immediately',
  drainTimeoutSeconds: 30,
  force: true,
  requestedBy: 'operator@test',
  known: null,
};

function fakePorts(live: { leaseId: string; holder?: string }[]) {
  const released: string[] = [];
  const recorded: unknown[][] = [];
  const deps = {
    leases: {
      liveLeases: async () => live,
      release: async (_tenantId: string, leaseId: string) => {
        released.push(leaseId);
        return true;
      },
    },
    operations: {
      recordStep: async (...args: unknown[]) => {
        recorded.push(args);
      },
    },
  } as unknown as PlanChangeDependencies;
  return { deps, released, recorded };
}

describe('Step: drainQueries, forced', () => {
  it('should record, then revoke, every live lease without waiting, and carry nothing when nothing was carried', async () => {
    const { deps, released, recorded } = fakePorts([{ leaseId: 'l-1', holder: 'report' }, { leaseId: 'l-2' }]);

    const known = await runPlanChangeStep(deps, 'drainQueries', input);

    expect(known).toBeNull();
    expect(recorded).toEqual([['op_forced', 'leases_revoked', { revokedLeases: [{ leaseId: 'l-1', holder: 'report' }, { leaseId: 'l-2', holder: 'unknown' }] }]]);
    expect(released.sort()).toEqual(['l-1', 'l-2']);
  });

  it('should write nothing when no lease is live', async () => {
    const { deps, released, recorded } = fakePorts([]);

    await runPlanChangeStep(deps, 'drainQueries', input);

    expect([released, recorded]).toEqual([[], []]);
  });
});

describe('Function: forcedContext', () => {
  it('should mark only a forced change’s entries', () => {
    expect(forcedContext({ force: true })).toEqual({ forced: true });
    expect(forcedContext({ force: false })).toEqual({});
    expect(forcedContext({})).toEqual({}); // an execution started before force existed
  });
});

describe('Function: forcedSummary', () => {
  it('should say what the drain revoked, or only that the change was forced when the execution lost what it revoked', () => {
    expect(forcedSummary([{ leaseId: 'a', holder: 'q' }, { leaseId: 'b', holder: 'q' }, { leaseId: 'c', holder: 'r' }])).toBe('forced: 3 live query leases revoked, held by q, r');
    expect(forcedSummary([])).toBe('forced: no live query lease to revoke');
    expect(forcedSummary(undefined)).toBe('forced');
  });
});
