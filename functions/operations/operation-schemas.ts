import * as z from 'zod';
import { printable } from '../shared/schemas';

/** `/operations/{operationId}`: an operation id as the API returns them, of any workflow. */
export const operationPathSchema = z
  .object({ operationId: printable(z.string()).regex(/^op_[a-f0-9-]{36}$/, 'must be an operation id as returned by the API (op_...)') })
  .strict();
