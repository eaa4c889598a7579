/** Request schemas of the export routes (strict, like every route's: an unknown field is 400). */
import * as z from 'zod';
import { printable } from '../shared/schemas';
import { reasonSchema } from '../tenants/tenant-schemas';

/** POST /tenants/{tenantId}/exports: an optional reason, kept in the tenant's history (who asked, a ticket). */
export const startExportBodySchema = z.object({ reason: reasonSchema }).strict();
export type StartExportBody = z.infer<typeof startExportBodySchema>;

/** `/exports/{exportId}`: an export id as POST answered it (the export's operation id). */
export const exportPathSchema = z
  .object({ exportId: printable(z.string()).regex(/^op_[a-f0-9-]{36}$/, 'must be an export id as returned by the API (op_...)') })
  .strict();
