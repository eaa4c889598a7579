/**
 * The tenant's view is an allow-list (functions/tenants/tenant-view.ts): a field a record gains later stays hidden
 * from tenant-scoped callers until it is listed, and operators keep getting the record itself.
 */
import { visibleTo } from '../../../functions/tenants/tenant-view';
import type { AuditEntry } from '../../../functions/tenants/tenant-store';
import type { Operation } from '../../../functions/operations/operation-store';

const entry = { tenantId: 'acme', version: 2, at: '2026-03-02T10:00:00.000Z', actor: 'ops@provider.example', event: 'suspend', from: 'active', to: 'suspended', reason: 'manual', internalNote: 'new field' } as unknown as AuditEntry;

describe('visibleTo', () => {
  it("should give an operator the record itself, and a tenant only the listed fields (a new field stays the operators')", () => {
    expect(visibleTo({ role: 'operator' }, 'auditEntry', entry)).toBe(entry);
    expect(visibleTo({ role: 'tenant' }, 'auditEntry', entry)).toEqual({ tenantId: 'acme', version: 2, at: entry.at, event: 'suspend', from: 'active', to: 'suspended', reasonCategory: 'account' });
  });

  it('should class a grace period as billing, and keep an operation without an error free of one', () => {
    expect(visibleTo({ role: 'tenant' }, 'auditEntry', { ...entry, event: 'start_grace_period' } as AuditEntry)).toMatchObject({ reasonCategory: 'billing' });
    const operation = { operationId: 'op_1', tenantId: 'acme', workflow: 'export', status: 'running', input: {}, steps: [], facts: {}, requestedBy: 'ops', createdAt: 'c', updatedAt: 'u' } as unknown as Operation;
    expect(visibleTo({ role: 'tenant' }, 'operation', operation)).toEqual({ operationId: 'op_1', tenantId: 'acme', workflow: 'export', status: 'running', createdAt: 'c', updatedAt: 'u' });
  });
});

describe('the projections of records without the optional parts', () => {
  it('should leave out what the record does not have, and keep exports and certificates but for their operators-only fields', () => {
    const tenant = { tenantId: 'acme', name: 'Acme', email: 'a@acme.example', plan: 'starter', state: 'active', usage: {}, version: 1, createdAt: 'c', updatedAt: 'u', stateChangedAt: 's', allowedEvents: [] };
    expect(visibleTo({ role: 'tenant' }, 'tenant', tenant as never)).toEqual(tenant);
    const view = { exportId: 'op_1', tenantId: 'acme', status: 'running', step: 'initiated', requestedBy: 'ops', requestedAt: 'r', dueAt: 'd', overdueRisk: false, sources: [] };
    expect(visibleTo({ role: 'tenant' }, 'export', view as never)).toEqual({ exportId: 'op_1', tenantId: 'acme', status: 'running', step: 'initiated', requestedAt: 'r', dueAt: 'd', overdueRisk: false, sources: [] });
    const certificate = { certificateId: 'c1', deletion: { requestedAt: 'r', requestedBy: 'ops', retentionDays: 30, deadline: 'd' }, legalHolds: [], sha256: 'x' };
    expect(visibleTo({ role: 'tenant' }, 'deletionCertificate', certificate as never)).toEqual({ certificateId: 'c1', deletion: { requestedAt: 'r', retentionDays: 30, deadline: 'd' }, legalHolds: [], sha256: 'x' });
  });
});
