/**
 * Data-source cursors: base64url JSON that names the source that issued it, so a cursor given to another
 * source, or edited, is refused (DataSourceCursorError) before any of it reaches a request.
 */
import * as z from 'zod';
import { DataSourceCursorError } from './data-source';

/** Encode `position` (JSON) as a cursor of `source` for `tenantId`'s records. */
export function encodeSourceCursor(source: string, tenantId: string, position: unknown): string {
  return Buffer.from(JSON.stringify({ source, tenantId, position })).toString('base64url');
}

/**
 * The position inside a cursor `source` issued, checked against `schema` (strict, so a crafted cursor cannot
 * smuggle keys into a request). Throws DataSourceCursorError for anything else.
 */
export function decodeSourceCursor<T>(source: string, tenantId: string, cursor: string, schema: z.ZodType<T>): T {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new DataSourceCursorError(source, 'is not valid base64url JSON');
  }
  const envelope = z.object({ source: z.string(), tenantId: z.string(), position: z.unknown() }).strict().safeParse(value);
  if (!envelope.success) throw new DataSourceCursorError(source);
  if (envelope.data.source !== source) throw new DataSourceCursorError(source, `was issued by source '${envelope.data.source}'`);
  // A cursor of another tenant would page through that tenant's key space from this tenant's request.
  if (envelope.data.tenantId !== tenantId) throw new DataSourceCursorError(source, 'was issued for another tenant');
  const position = schema.safeParse(envelope.data.position);
  if (!position.success) throw new DataSourceCursorError(source, 'holds a position this source never writes');
  return position.data;
}

/** A DynamoDB start key as cursors carry it: the table's string keys, nothing else. */
export const TABLE_KEY_POSITION = z.object({ pk: z.string().min(1).max(2048), sk: z.string().min(1).max(1024) }).strict();
export type TableKeyPosition = z.infer<typeof TABLE_KEY_POSITION>;
