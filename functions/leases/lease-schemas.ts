/** Request schemas and bounds of the query lease routes; types are inferred from the schemas. */
import * as z from 'zod';
import { text, wholeNumber } from '../shared/schemas';
import { tenantIdSchema } from '../tenants/tenant-schemas';

/**
 * How long a lease lives unless released, in seconds. Short by design: a caller that crashes blocks a
 * plan change's drain for at most `max` seconds, so the drain's timeout should be at least that long.
 */
export const LEASE_TTL_SECONDS = { min: 1, max: 300, default: 30 } as const;

/** What a refused caller is told to wait (`retry-after`) during a read-only window, which has no known end. */
export const LEASE_RETRY_AFTER_SECONDS = 5;

export const leaseTtlSecondsSchema = wholeNumber(LEASE_TTL_SECONDS.min, LEASE_TTL_SECONDS.max, 'seconds');

export const leaseHolderSchema = text(200);

/** Body of POST /tenants/{tenantId}/leases; the holder defaults to the caller's token subject. */
export const acquireLeaseBodySchema = z
  .object({
    holder: leaseHolderSchema.optional().meta({ description: 'Who holds the lease (a request id, a worker): shown to operators. Defaults to the token subject.' }),
    ttlSeconds: leaseTtlSecondsSchema
      .default(LEASE_TTL_SECONDS.default)
      .meta({ description: `Seconds until the lease expires on its own, ${LEASE_TTL_SECONDS.min} to ${LEASE_TTL_SECONDS.max} (default ${LEASE_TTL_SECONDS.default}).` }),
  })
  .strict();
export type AcquireLeaseBody = z.infer<typeof acquireLeaseBodySchema>;

/** Lease ids are minted by the store as UUIDs. */
export const leaseIdSchema = z.uuid('must be a lease id (a UUID) as returned by POST /tenants/{tenantId}/leases');

export const leasePathSchema = z.object({ tenantId: tenantIdSchema, leaseId: leaseIdSchema }).strict();
