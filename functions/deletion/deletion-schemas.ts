/** Request schemas of the deletion routes (soft delete, its cancellation, legal holds); types inferred from them. */
import * as z from 'zod';
import { text } from '../shared/schemas';
import { reasonSchema } from '../tenants/tenant-schemas';

/**
 * POST /tenants/{id}/deletion. `retentionDays` is only type-checked here: its bounds (30–90, at most 30 for a
 * GDPR tenant) are the deletion policy's (retentionDaysFor), which answers 400 INVALID_RETENTION saying which.
 */
export const initiateDeletionBodySchema = z
  .object({
    retentionDays: z.number({ error: 'must be a number of days' }).optional(),
    reason: reasonSchema,
  })
  .strict();
export type InitiateDeletionBody = z.infer<typeof initiateDeletionBodySchema>;

/** PUT /tenants/{id}/legal-hold: why (required: a hold must be justified), and on whose authority (default: the caller). */
export const legalHoldBodySchema = z
  .object({
    reason: text(500),
    by: text(200).optional(),
  })
  .strict();
export type LegalHoldBody = z.infer<typeof legalHoldBodySchema>;
