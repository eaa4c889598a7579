/**
 * Raw HTTP/1.1 to the local S3 server, for tests of its guard: the request line exactly as written (fetch and the
 * SDK would normalise `.`/`..` segments, encodings and headers first), signed with SigV4 where asked.
 */
import { createHash } from 'node:crypto';
import { connect } from 'node:net';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { LocalCredentials } from '../../infra/local/loopback-env';

/** What came back: the status (0 when the connection died without an answer), S3's error code, the whole text. */
export interface RawAnswer {
  readonly status: number;
  readonly code?: string;
  readonly body: string;
}

/** Send `bytes` to 127.0.0.1:`port` and read until the server closes the connection. */
export function sendRaw(port: number, bytes: Buffer): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    const done = () => resolve({ status: Number(out.split(' ')[1]) || 0, code: /<Code>([^<]+)/.exec(out)?.[1], body: out });
    socket.on('data', (chunk) => (out += chunk)).on('close', done).on('error', done);
    socket.write(bytes);
  });
}

function parseQuery(raw: string): Record<string, string> {
  const query: Record<string, string> = {};
  for (const pair of raw.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    query[decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq))] = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
  }
  return query;
}

/**
 * A request to `target` (path and query exactly as written) correctly signed with `key` (region us-east-1), its
 * `x-amz-content-sha256` the body's SHA-256 when `hashBody`, else UNSIGNED-PAYLOAD.
 */
export async function signedRaw(port: number, key: LocalCredentials, method: string, target: string, options: { headers?: Record<string, string>; body?: string; hashBody?: boolean } = {}): Promise<RawAnswer> {
  const { headers = {}, body = '', hashBody = false } = options;
  const mark = target.indexOf('?');
  const signer = new SignatureV4({ credentials: key, region: 'us-east-1', service: 's3', sha256: Sha256, uriEscapePath: false });
  const request = await signer.sign({
    method, protocol: 'http:', hostname: '127.0.0.1', port, path: mark < 0 ? target : target.slice(0, mark), query: mark < 0 ? {} : parseQuery(target.slice(mark + 1)),
    headers: { host: `127.0.0.1:${port}`, 'x-amz-content-sha256': hashBody ? createHash('sha256').update(body).digest('hex') : 'UNSIGNED-PAYLOAD', ...headers },
  });
  const head = [`${method} ${target} HTTP/1.1`, ...Object.entries(request.headers).map(([name, value]) => `${name}: ${value}`), `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', ''].join('\r\n');
  return sendRaw(port, Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]));
}
