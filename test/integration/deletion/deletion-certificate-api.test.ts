/**
 * GET /tenants/{tenantId}/deletion-certificate through the local API: 404 with a message that says why until the
 * tenant is deleted (and when its hard delete is due while it is deleting), the certificate once it is, for the
 * operator and the tenant's own token only. (The certificate's content is asserted where the hard delete writes
 * it: test/integration/deletion/hard-delete.test.ts.)
 */
import { certificateItem, sealCertificate } from '../../../functions/deletion/deletion-certificate';
import { deletionSchedule } from '../../../functions/deletion/deletion-policy';
import { TOMBSTONE_FIELDS } from '../../../functions/tenants/tenant-store';
import { ApiHarness } from '../../support/api-harness';

const api = new ApiHarness();
beforeAll(() => api.start());
afterAll(() => api.stop());

type ErrorBody = { error: { code: string; message: string; details?: Record<string, unknown> } };

it('should answer 404 TENANT_NOT_FOUND for an unknown tenant', async () => {
  const response = await api.request<ErrorBody>('GET', '/tenants/nobody-here/deletion-certificate');
  expect(response.status).toBe(404);
  expect(response.body.error.code).toBe('TENANT_NOT_FOUND');
});

it('should answer 404 DELETION_CERTIFICATE_NOT_FOUND naming the state until the tenant is deleted, then the certificate', async () => {
  await api.createTenant('cert-co');
  const active = await api.request<ErrorBody>('GET', '/tenants/cert-co/deletion-certificate');
  expect(active.status).toBe(404);
  expect(active.body.error).toMatchObject({ code: 'DELETION_CERTIFICATE_NOT_FOUND', details: { tenantId: 'cert-co', state: 'active' } });
  expect(active.body.error.message).toContain("it is 'active'");

  const deletion = deletionSchedule({ tenantId: 'cert-co', requestedAt: new Date(), requestedBy: 'operator@test', retentionDays: 30 });
  const deleting = await api.store.applyTransition(await api.store.get('cert-co'), 'initiate_deletion', { actor: 'operator@test' }, { changes: { deletion } });
  const pending = await api.request<ErrorBody>('GET', '/tenants/cert-co/deletion-certificate');
  expect(pending.status).toBe(404);
  expect(pending.body.error.message).toContain(`due from ${deletion.window.opensAt} to ${deletion.window.closesAt}`);

  // As the hard delete's last step writes them: the certificate with complete_deletion and the tombstone.
  const at = new Date().toISOString();
  const certificate = sealCertificate({
    certificateId: 'dc_hd_cert', tenantId: 'cert-co', operationId: 'hd_cert', deletion: { requestedAt: deletion.requestedAt, requestedBy: deletion.requestedBy, retentionDays: 30, deadline: deletion.deadline },
    window: deletion.window, trigger: { kind: 'deadline', scheduledAt: deletion.deadline }, startedAt: at, completedAt: at, timeliness: { onTime: true }, sources: [], billingCustomer: { deleted: true, at }, legalHolds: [], tombstoneFields: [...TOMBSTONE_FIELDS],
  });
  await api.store.applyTransition(deleting, 'complete_deletion', { actor: 'hard-delete:deadline' }, { changes: { tombstone: { deletedAt: at, deletionCertificateId: certificate.certificateId } }, alsoPut: [certificateItem(certificate)] });

  const operator = await api.request('GET', '/tenants/cert-co/deletion-certificate');
  expect(operator.status).toBe(200);
  expect(operator.body).toEqual(certificate);
  expect((await api.request('GET', '/tenants/cert-co/deletion-certificate', { token: api.tenantToken('cert-co') })).status).toBe(200);
  expect((await api.request<ErrorBody>('GET', '/tenants/cert-co/deletion-certificate', { token: api.tenantToken('other-co') })).status).toBe(403);
  // The tombstone still reads as a tenant: deleted, without its personal fields.
  const tenant = await api.request<Record<string, unknown>>('GET', '/tenants/cert-co');
  expect(tenant.status).toBe(200);
  expect(tenant.body).toMatchObject({ tenantId: 'cert-co', state: 'deleted', deletionCertificateId: 'dc_hd_cert' });
  expect(tenant.body).not.toHaveProperty('email');
});
