/** The GDPR clock of an export (Art. 12(3): one month), its overdue-risk flag, and the local stack's progress line. */
import { OVERDUE_RISK_DAYS, exportView, oneMonthAfter } from '../../../functions/export/export-request';
import type { Operation } from '../../../functions/operations/operation-store';
import { progressLine } from '../../../infra/local/local-stack';

describe('Function: oneMonthAfter', () => {
  it.each([
    ['2026-11-29T23:00:00.000Z', '2026-12-29T23:00:00.000Z'],
    ['2026-01-31T10:00:00.000Z', '2026-02-28T10:00:00.000Z'],
    ['2028-01-31T10:00:00.000Z', '2028-02-29T10:00:00.000Z'],
    ['2026-12-15T00:00:00.000Z', '2027-01-15T00:00:00.000Z'],
    ['2026-03-31T12:30:00.000Z', '2026-04-30T12:30:00.000Z'],
  ])('should put the due date of a request received %s at %s', (at, due) => {
    expect(oneMonthAfter(at)).toBe(due);
  });
});

describe('Function: exportView', () => {
  const operation = (status: Operation['status']): Operation => ({
    operationId: 'op_1',
    tenantId: 'acme',
    workflow: 'export',
    status,
    input: { requestedAt: '2026-11-01T00:00:00.000Z', dueAt: '2026-12-01T00:00:00.000Z' },
    steps: ['counted:tenant', 'counted:documents', 'exported:documents:1'],
    facts: { 'progress:tenant': { expected: 1, exported: 0 }, 'progress:documents': { expected: 100, exported: 40 } },
    requestedBy: 'operator:test',
    createdAt: '2026-11-01T00:00:00.000Z',
    updatedAt: '2026-11-01T00:00:00.000Z',
  });
  const due = Date.parse('2026-12-01T00:00:00.000Z');

  it('should show progress per source in the order counted, and the last step', () => {
    expect(exportView(operation('running'), new Date('2026-11-02T00:00:00Z'))).toMatchObject({
      step: 'exported:documents:1',
      sources: [{ source: 'tenant', expected: 1, exported: 0 }, { source: 'documents', expected: 100, exported: 40 }],
      overdueRisk: false,
    });
  });

  it(`should flag an unfinished export from ${OVERDUE_RISK_DAYS} days before its due date, and never a finished one`, () => {
    const justBefore = new Date(due - OVERDUE_RISK_DAYS * 86_400_000 - 1);
    const from = new Date(due - OVERDUE_RISK_DAYS * 86_400_000);
    expect(exportView(operation('running'), justBefore).overdueRisk).toBe(false);
    expect(exportView(operation('running'), from).overdueRisk).toBe(true);
    expect(exportView(operation('running'), new Date(due + 1)).overdueRisk).toBe(true);
    expect(exportView(operation('succeeded'), new Date(due + 1)).overdueRisk).toBe(false);
    expect(exportView(operation('failed'), new Date(due + 1)).overdueRisk).toBe(false);
  });
});

describe('Function: progressLine', () => {
  it('should print a progress answer as records done against expected, and nothing for other answers', () => {
    const operation = { operationId: 'op_1', tenantId: 'acme-corp' };
    expect(progressLine('export', operation, { source: 'documents', expected: 100000, exported: 4000, cursor: 'x' })).toBe('workflow export op_1 tenant=acme-corp documents 4000/100000');
    expect(progressLine('export', operation, { sources: ['documents'] })).toBeUndefined();
    expect(progressLine('plan-change', operation, undefined)).toBeUndefined();
  });
});
