/** The query of GET /compliance/violations: a time range of `detectedAt` (both ends inclusive) and a page. */
import * as z from 'zod';
import { cursorSchema, limitSchema } from '../tenants/tenant-schemas';

const TIME_MESSAGE = 'must be an ISO 8601 time with a time zone, e.g. 2026-11-22T08:00:00Z';

/** An ISO 8601 time (UTC `Z` or an offset), normalised to UTC with milliseconds: how detectedAt is stored and compared. */
const instant = z.iso
  .datetime({ offset: true, message: TIME_MESSAGE })
  .max(40, 'must be at most 40 characters')
  .transform((value) => new Date(value).toISOString());

export const listViolationsQuerySchema = z
  .object({
    from: instant.optional().meta({ description: 'Only violations detected at or after this time (ISO 8601).' }),
    to: instant.optional().meta({ description: 'Only violations detected at or before this time (ISO 8601).' }),
    limit: limitSchema,
    cursor: cursorSchema,
  })
  .strict()
  .refine((query) => query.from === undefined || query.to === undefined || query.from <= query.to, {
    message: 'must not be before `from`: give a range whose start comes first',
    path: ['to'],
  });
export type ListViolationsQuery = z.infer<typeof listViolationsQuerySchema>;
