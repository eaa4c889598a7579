/**
 * How Pinecone's SDK errors reach the workflow: network failures, 429 and 5xx are ProvisioningTransientError
 * (the Task retries), anything else is a plain Error saying what Pinecone refused.
 */
import { mapPineconeError } from '../../../functions/provisioning/pinecone-provisioner';
import { ProvisioningTransientError } from '../../../functions/provisioning/provisioner';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('Function: mapPineconeError', () => {
  it.each([
    ['a connection failure', named('PineconeConnectionError', 'fetch failed')],
    ['an internal server error', named('PineconeInternalServerError', 'boom')],
    ['an unmapped 429', named('PineconeUnmappedHttpError', 'An unexpected error occured. Status: 429. Body: rate limited')],
    ['an unmapped 502', named('PineconeUnmappedHttpError', 'An unexpected error occured. Status: 502. Body: bad gateway')],
  ])('should make %s transient, keeping the cause and saying what was being done', (_, error) => {
    const mapped = mapPineconeError(error, 'copying namespace tenant_acme');
    expect(mapped).toBeInstanceOf(ProvisioningTransientError);
    expect(mapped.message).toBe(`Pinecone is unavailable while copying namespace tenant_acme (${error.name}): ${error.message}`);
    expect(mapped.cause).toBe(error);
  });

  it.each([
    ['a bad request', named('PineconeBadRequestError', 'dimension mismatch'), 'PineconeBadRequestError'],
    ['an unmapped 404', named('PineconeUnmappedHttpError', 'An unexpected error occured. Status: 404. Body: gone'), 'PineconeUnmappedHttpError'],
    ['a thrown string', 'quota exceeded', 'error'],
  ])('should refuse %s as a plain Error naming it', (_, error, name) => {
    const mapped = mapPineconeError(error, 'creating index tenant-acme');
    expect(mapped).not.toBeInstanceOf(ProvisioningTransientError);
    expect(mapped.message).toMatch(new RegExp(`^Pinecone refused creating index tenant-acme \\(${name}\\): `));
  });

  it('should pass a ProvisioningTransientError through unchanged', () => {
    const transient = new ProvisioningTransientError('counts differ');
    expect(mapPineconeError(transient, 'verifying')).toBe(transient);
  });
});
