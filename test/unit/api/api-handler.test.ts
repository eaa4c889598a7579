/**
 * How a route reads the request API Gateway delivers (test/events/ fixture): base64 bodies (API Gateway encodes
 * what it takes for binary), a body sent to a route that takes none, a missing media type.
 */
import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { apiRoute } from '../../../functions/shared/http/api-handler';
import { jsonResponse } from '../../../functions/shared/http/response';
import { apiEvent } from '../../support/events';

const echo = apiRoute({ routeId: 'Echo', access: 'operator', body: z.object({ name: z.string() }).strict() }, async ({ body, requestId }) => jsonResponse(200, { body, requestId }));
const noBody = apiRoute({ routeId: 'NoBody', access: 'operator' }, async () => jsonResponse(200, { ok: true }));

async function call(handler: typeof echo, event: ReturnType<typeof apiEvent>) {
  const response = await handler(event, {} as Context);
  return { status: response.statusCode, body: JSON.parse(response.body as string) as Record<string, unknown> & { error?: { code: string; message: string } } };
}

describe('Function: apiRoute (request body)', () => {
  it('should decode a base64-encoded JSON body', async () => {
    const event = apiEvent({ method: 'POST', route: '/echo', body: { name: 'Ada' } });
    event.body = Buffer.from(event.body as string).toString('base64');
    event.isBase64Encoded = true;

    expect(await call(echo, event)).toEqual({ status: 200, body: { body: { name: 'Ada' }, requestId: event.requestContext.requestId } });
  });

  it('should refuse a body sent to a route that takes none with 400 UNEXPECTED_BODY', async () => {
    const refused = await call(noBody, apiEvent({ method: 'POST', route: '/no-body', body: { name: 'Ada' } }));
    expect(refused).toMatchObject({ status: 400, body: { error: { code: 'UNEXPECTED_BODY', message: 'This route takes no request body; send none.' } } });
  });

  it('should refuse a JSON body without a content type with 415, saying which header to send', async () => {
    const event = apiEvent({ method: 'POST', route: '/echo', body: { name: 'Ada' } });
    delete event.headers['content-type'];
    const refused = await call(echo, event);
    expect(refused).toMatchObject({ status: 415, body: { error: { code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('(got "none")') } } });
  });

  it('should take an absent body as {} for a route whose fields are all optional, and none for a route that takes none', async () => {
    const optional = apiRoute({ routeId: 'Optional', access: 'operator', body: z.object({ reason: z.string().optional() }).strict() }, async ({ body }) => jsonResponse(200, { body }));
    expect(await call(optional, apiEvent({ method: 'POST', route: '/optional' }))).toEqual({ status: 200, body: { body: {} } });
    expect(await call(noBody, apiEvent({ method: 'POST', route: '/no-body' }))).toEqual({ status: 200, body: { ok: true } });
  });
});
