import { LEASE_TTL_SECONDS, acquireLeaseBodySchema, leasePathSchema } from '../../../functions/leases/lease-schemas';

describe('Schema: acquireLeaseBodySchema', () => {
  it('should default ttlSeconds to 30 and leave the holder to the route', () => {
    expect(acquireLeaseBodySchema.parse({})).toEqual({ ttlSeconds: LEASE_TTL_SECONDS.default });
    expect(LEASE_TTL_SECONDS.default).toBe(30);
  });

  it.each([1, 30, 300])('should accept ttlSeconds %p', (ttlSeconds) => {
    expect(acquireLeaseBodySchema.parse({ ttlSeconds }).ttlSeconds).toBe(ttlSeconds);
  });

  it.each([0, -1, 301, 1.5, '30', null])('should refuse ttlSeconds %p', (ttlSeconds) => {
    const result = acquireLeaseBodySchema.safeParse({ ttlSeconds });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['ttlSeconds']);
  });

  it('should accept a holder of up to 200 characters, trimmed, and refuse a longer or blank one', () => {
    expect(acquireLeaseBodySchema.parse({ holder: `  ${'h'.repeat(200)}  ` }).holder).toBe('h'.repeat(200));
    expect(acquireLeaseBodySchema.safeParse({ holder: 'h'.repeat(201) }).success).toBe(false);
    expect(acquireLeaseBodySchema.safeParse({ holder: '   ' }).success).toBe(false);
  });

  it('should refuse unknown fields', () => {
    expect(acquireLeaseBodySchema.safeParse({ leaseId: 'mine' }).success).toBe(false);
  });
});

describe('Schema: leasePathSchema', () => {
  it('should accept a tenant id and a UUID lease id, and refuse anything else as the lease id', () => {
    expect(leasePathSchema.safeParse({ tenantId: 'acme-corp', leaseId: '3f1e5a4c-2b7d-4c1e-9a0f-8d6b5e4c3a21' }).success).toBe(true);
    expect(leasePathSchema.safeParse({ tenantId: 'acme-corp', leaseId: 'LEASE#x' }).success).toBe(false);
    expect(leasePathSchema.safeParse({ tenantId: 'Acme', leaseId: '3f1e5a4c-2b7d-4c1e-9a0f-8d6b5e4c3a21' }).success).toBe(false);
  });
});
