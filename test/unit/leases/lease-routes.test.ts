/** What the lease routes add to the shared HTTP layer: the error mapping, its retry-after header, the 204. */
import { emptyResponse } from '../../../functions/leases/handlers/release-lease';
import { LeaseRefusedError } from '../../../functions/leases/errors';
import { LEASE_RETRY_AFTER_SECONDS } from '../../../functions/leases/lease-schemas';
import { toApiError } from '../../../functions/shared/errors';

describe('Function: toApiError', () => {
  it('should map a read-only refusal to 409 TENANT_READ_ONLY with the window reason', () => {
    const error = toApiError(new LeaseRefusedError('acme-corp', 'read_only_window', { state: 'upgrading', readOnlyReason: 'Migrating' }));

    expect(error).toMatchObject({ status: 409, code: 'TENANT_READ_ONLY', details: { reason: 'read_only_window', state: 'upgrading', readOnlyReason: 'Migrating' } });
    expect(error.message).toContain('Migrating');
  });

  it('should map a blocked refusal to 409 TENANT_BLOCKED', () => {
    expect(toApiError(new LeaseRefusedError('acme-corp', 'blocked', { state: 'deleted' }))).toMatchObject({
      status: 409,
      code: 'TENANT_BLOCKED',
      details: { reason: 'blocked', state: 'deleted' },
    });
  });
});

describe('Function: toApiError (headers)', () => {
  it('should carry retry-after on a TENANT_READ_ONLY refusal only', () => {
    const readOnly = toApiError(new LeaseRefusedError('acme-corp', 'read_only_window', { state: 'upgrading', readOnlyReason: 'Migrating' }));
    const blocked = toApiError(new LeaseRefusedError('acme-corp', 'blocked', { state: 'deleted' }));

    expect(readOnly.headers['retry-after']).toBe(String(LEASE_RETRY_AFTER_SECONDS));
    expect(blocked.headers).toEqual({});
  });
});

describe('Function: emptyResponse', () => {
  it('should have no body and no content type', () => {
    expect(emptyResponse(204)).toEqual({ statusCode: 204, headers: { 'cache-control': 'no-store' } });
  });
});
