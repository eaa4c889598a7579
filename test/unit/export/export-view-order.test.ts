/** GET /exports/{id} lists per-source progress in the manifest's (the registry's) order once the manifest is written, whatever order the sources were counted in. */
import { exportView } from '../../../functions/export/export-request';
import type { Operation } from '../../../functions/operations/operation-store';

const operation = (facts: Record<string, unknown>, steps: string[]): Operation =>
  ({
    operationId: 'op_1',
    tenantId: 'acme',
    workflow: 'export',
    status: 'succeeded',
    input: { operationId: 'op_1', tenantId: 'acme', requestedAt: '2026-11-01T00:00:00.000Z' },
    steps,
    facts,
    requestedBy: 'operator@test',
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  }) as unknown as Operation;

describe('exportView', () => {
  const progress = { 'progress:tenant': { expected: 1, exported: 1 }, 'progress:audit': { expected: 4, exported: 4 }, 'progress:documents': { expected: 9, exported: 9 } };
  // Counted two at a time: audit finished counting before tenant.
  const steps = ['initiated', 'counted:audit', 'counted:tenant', 'counted:documents', 'manifest_written', 'verified'];

  it("should list the sources in the manifest's order once it is written", () => {
    const view = exportView(operation({ ...progress, manifestSources: ['tenant', 'audit', 'documents'] }, steps), new Date('2026-11-02T00:00:00Z'));
    expect(view.sources).toEqual([
      { source: 'tenant', expected: 1, exported: 1 },
      { source: 'audit', expected: 4, exported: 4 },
      { source: 'documents', expected: 9, exported: 9 },
    ]);
  });

  it('should list them in the order they were counted while no manifest exists yet', () => {
    const view = exportView(operation(progress, steps.slice(0, 3)), new Date('2026-11-02T00:00:00Z'));
    expect(view.sources.map((entry) => entry.source)).toEqual(['audit', 'tenant']);
  });
});
