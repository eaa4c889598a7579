/** What the lease routes add to the shared HTTP layer: the error mapping and the retry-after header. */
import { withRetryAfter } from '../../../functions/leases/handlers/acquire-lease';
import { emptyResponse } from '../../../functions/leases/handlers/release-lease';
import { LeaseRefusedError } from '../../../functions/leases/errors';
import { LEASE_RETRY_AFTER_SECONDS } from '../../../functions/leases/lease-schemas';
import { toApiError } from '../../../functions/shared/errors';
import { jsonResponse } from '../../../functions/shared/http/response';

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

describe('Function: withRetryAfter', () => {
  it('should add retry-after to a TENANT_READ_ONLY answer only', () => {
    const readOnly = jsonResponse(409, { error: { code: 'TENANT_READ_ONLY', message: 'm' } });
    const blocked = jsonResponse(409, { error: { code: 'TENANT_BLOCKED', message: 'm' } });
    const created = jsonResponse(201, { leaseId: 'x' });

    expect(withRetryAfter(readOnly).headers['retry-after']).toBe(String(LEASE_RETRY_AFTER_SECONDS));
    expect(withRetryAfter(blocked)).toBe(blocked);
    expect(withRetryAfter(created)).toBe(created);
  });
});

describe('Function: emptyResponse', () => {
  it('should have no body and no content type', () => {
    expect(emptyResponse(204)).toEqual({ statusCode: 204, headers: { 'cache-control': 'no-store' } });
  });
});
