/**
 * A request sent with an Idempotency-Key, answered the way apiRoute answers it (answerOnce: Powertools' real
 * persistence layer on this test file's table), so a test that needs a tenant's idempotency records makes them as
 * the API does rather than writing items by hand.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { answerOnce, idempotencyKeyOf } from '../../functions/shared/http/idempotency';
import { jsonResponse } from '../../functions/shared/http/response';

/**
 * POST `/tenants/<tenantId>/<action>` with Idempotency-Key `key`, by the tenant's own token (`by: 'tenant'`) or an
 * operator, answered 201 with `answer`: leaves one COMPLETED record in the tenant's partition.
 */
export async function idempotentRequest(
  table: { readonly client: DynamoDBDocumentClient; readonly tableName: string },
  tenantId: string,
  key: string,
  answer: Record<string, unknown>,
  by: 'tenant' | 'operator' = 'tenant',
): Promise<void> {
  const principal = by === 'tenant' ? { role: 'tenant', tenantId, subject: `app@${tenantId}` } : { role: 'operator', subject: 'operator@test' };
  const path = `/tenants/${tenantId}/exports`;
  await answerOnce(
    {
      key: idempotencyKeyOf({ 'idempotency-key': key }, principal) as NonNullable<ReturnType<typeof idempotencyKeyOf>>,
      request: { route: 'StartExport', path, query: {}, ifMatch: null, body: null },
      tenantId,
      client: table.client,
      tableName: table.tableName,
      ttlSeconds: 86_400,
    },
    async () => jsonResponse(201, answer),
  );
}
