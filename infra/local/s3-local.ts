/**
 * A local S3-compatible server (s3rver 3.7.1, from npm) as a child process we own: started on 127.0.0.1 on
 * a free port, waited for, and stopped when we stop or die (its stdin is a pipe only we hold: end-of-file
 * makes it exit, see S3_MAIN).
 *
 * Two traps measured here (see TOOLCHAIN.md): s3rver needs `--openssl-legacy-provider` on Node 17+, or
 * ListObjectsV2 pagination answers 500 (hence a child process, not in-process); and clients must send
 * checksums only when required (`localS3ClientConfig`), or streamed bodies are stored with their
 * aws-chunked framing. s3rver itself checks neither SigV4 signatures (only presigned expiry and the access key
 * id: S3_GUARD adds the rest) nor lifecycle configuration: expiry is enforced by the local adapter, and the AWS
 * bucket's lifecycle rules are tested in CDK assertions.
 *
 * Off the network (S3_GUARD): it listens on 127.0.0.1 only; it answers only requests addressed to a loopback
 * name (DNS rebinding, see loopback-host.ts: 421 otherwise); it refuses a path that would leave its folder; and it
 * accepts only SigV4 requests signed with the key it is started with (its own, never the DynamoDB Local key:
 * see LOCAL_S3_KEY_VARIABLES), the signature and a signed payload hash verified, never s3rver's built-in `S3RVER`
 * key that every install shared, nor an unsigned or V2 request. The key is passed in the child's environment,
 * never on its command line (which `ps` shows).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { LocalStackError, onFreePort, ownedChild, waitForChild } from './dynamodb-local';
import { LOOPBACK_HOST_PATTERN, misdirectedMessage } from './loopback-host';
import { LOCAL_S3_KEY_VARIABLES, localS3Credentials, useLocalS3Credentials, type LocalCredentials } from './loopback-env';

export interface S3Local {
  /** `http://127.0.0.1:<port>`: give it to S3 clients with `forcePathStyle: true`. */
  readonly endpoint: string;
  readonly port: number;
  readonly process: ChildProcess;
  /** Stop the server and resolve once it has exited; a temporary directory it made is removed. */
  stop(): Promise<void>;
}

export interface S3LocalOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** Directory for the objects; a fresh temporary directory (removed on stop) when omitted. */
  readonly directory?: string;
  /** Buckets to create at start (existing ones are kept). */
  readonly buckets?: readonly string[];
  /** The one access key it accepts; the environment's local S3 key (S3_LOCAL_ACCESS_KEY_ID, S3_LOCAL_SECRET_ACCESS_KEY) when omitted. */
  readonly credentials?: LocalCredentials;
}

/**
 * Settings every S3 client talking to s3rver needs (path-style URLs; checksums only when required), signing with
 * `credentials`, else with the local S3 key of the environment (localS3Credentials: the key the server was started
 * with, see startS3Local), else with the SDK's default chain (LocalStack).
 */
export function localS3ClientConfig(endpoint: string, credentials: LocalCredentials | undefined = localS3Credentials()) {
  return {
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    ...(credentials ? { credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  } as const;
}

/**
 * Koa middleware put in front of s3rver's own (its `middleware` list, before `run()` composes it). Runs inside the
 * child, with the pattern and message from loopback-host.ts. In order:
 *
 * 1. Host: only a loopback name (DNS rebinding): 421 MisdirectedRequest otherwise.
 * 2. The path: s3rver builds file paths with `path.join(directory, bucket, key)` from the decoded URL, so a `..`
 *    segment (`%2F..%2F` included) would reach files outside its folder. A bucket name must follow S3's rules
 *    (3-63 of `a-z 0-9 . -`), and no decoded segment of the path as sent or as s3rver routes it (`ctx.path`), or of
 *    an `x-amz-copy-source`, may be `.` or `..` or hold a backslash or a NUL; a `#` is refused; an `uploadId` must
 *    be one s3rver makes (32 hex digits), a `partNumber` 1-10000: 400 InvalidURI / InvalidBucketName /
 *    InvalidArgument, 404 NoSuchUpload otherwise. (S3 itself allows these in keys; nothing of ours writes them.)
 *    Behind this, S3_STORE_CONFINEMENT keeps every file path s3rver builds inside its folder.
 * 3. Authentication: AWS Signature Version 4 only, as the AWS SDK and CLI send it, spelt exactly as AWS requires
 *    (`AWS4-HMAC-SHA256`): either an `Authorization` header or a presigned query (`X-Amz-Algorithm=AWS4-HMAC-SHA256`,
 *    `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`, `X-Amz-SignedHeaders`, `X-Amz-Signature`), never both, never
 *    repeated. Anything else (unsigned, V2, another algorithm or spelling) is 403 AccessDenied. s3rver's own check
 *    of V4 is only the key id (and a presigned URL's expiry, which it keeps doing after this).
 * 4. The signature: the request as received is signed again with the AWS SDK's own signer (`@smithy/signature-v4`)
 *    and compared in constant time: the method, the path as sent, the query, the signed headers (every one present,
 *    `host` among them), at the request's date, with the credential scope's date equal to it. A header-signed
 *    request signs its `x-amz-content-sha256` and every other `x-amz-*` header it carries, and no `x-amz-*` query
 *    parameter but a presigned URL's own is accepted (s3rver copies them over the headers). A header-signed
 *    request states its payload's SHA-256 (64 hex digits) or `UNSIGNED-PAYLOAD`; streaming (aws-chunked) uploads are
 *    refused, since their chunk signatures would not be checked. A presigned URL signs `UNSIGNED-PAYLOAD` (as S3
 *    defines it) and its expiry (1-604,800 s, as S3 allows); its credential, signed headers, date and expiry must be
 *    exactly what signing again produces. Any difference: 403 SignatureDoesNotMatch.
 *
 * 5. The payload: the body of a signed request is read whole first (up to MAX_SIGNED_BODY_BYTES, else 400
 *    EntityTooLarge), so s3rver, which writes into an object in place, never sees half a body (a client cut off
 *    mid-body left a truncated object under the old ETag, and a file handle open); where a signed header states
 *    its SHA-256, another body is 400 XAmzContentSHA256Mismatch and nothing is stored (`UNSIGNED-PAYLOAD` bodies
 *    are not hashed, as on S3). s3rver then reads the checked bytes. A presigned GET or HEAD (an export link) is
 *    never read: its holder cannot make the server hold a body.
 *
 * Source: AWS, "Authenticating Requests (AWS Signature Version 4)" and "Bucket naming rules", Amazon S3
 * documentation.
 */
const S3_GUARD = `
const { createHash, timingSafeEqual } = require('crypto');
const { PassThrough } = require('stream');
const AWSAccount = require('s3rver/lib/models/account');
const S3Error = require('s3rver/lib/models/error');
const { SignatureV4 } = require('@smithy/signature-v4');
const { Sha256 } = require('@smithy/core/checksum');

const ALGORITHM = 'AWS4-HMAC-SHA256';
const PRESIGN_PARAMETERS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
// Any spelling of a query parameter some S3 signature version authenticates with (V4 presigned, V2 query).
const AUTH_PARAMETER = /^(x-amz-(algorithm|credential|date|expires|signedheaders|signature|security-token)|signature|awsaccesskeyid|expires)$/i;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const PAYLOAD_HASH = /^([0-9a-f]{64}|UNSIGNED-PAYLOAD)$/;

const denied = () => new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
const refused = (why) => new S3Error('AccessDenied', 'Access Denied: ' + why);
const fromAmzDate = (value) => {
  const m = /^(\\d{4})(\\d{2})(\\d{2})T(\\d{2})(\\d{2})(\\d{2})Z$/.exec(typeof value === 'string' ? value : '');
  return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])) : undefined;
};
// The query as sent, decoded (the signer encodes it again): a key without '=' has the value ''.
const parseQuery = (raw) => {
  const query = Object.create(null);
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    if (key === '__proto__') throw new Error('__proto__'); // a name the signer's plain objects cannot hold
    query[key] = key in query ? [].concat(query[key], value) : value;
  }
  return query;
};
const sameSignature = (expected, given) =>
  typeof expected === 'string' && typeof given === 'string' && expected.length === given.length && timingSafeEqual(Buffer.from(expected), Buffer.from(given));

// 2. No way out of s3rver's folder: a bucket named as S3 names them; no '.' or '..' segment, backslash or NUL in the
// path as sent, in the path s3rver routes (ctx.path: parseurl reads some targets differently), or anywhere in a copy
// source (s3rver decodes all of it); an upload id as s3rver makes them, a part number as S3 numbers them.
const INVALID_URI = () => new S3Error('InvalidURI', 'The local S3 server refuses a path with a "." or ".." segment, a backslash, a NUL, or a name with ._S3rver_ (its own files): it would leave its folder or break them.');
function checkSegments(decoded) {
  for (const segment of decoded.split('/')) {
    if (segment === '.' || segment === '..' || segment.includes('\\\\') || segment.includes('\\0') || segment.includes('._S3rver_')) throw INVALID_URI();
  }
}
function checkPath(ctx, rawPath, query) {
  if (ctx.req.url.includes('#')) throw INVALID_URI(); // never part of a request target (RFC 9112 3.2)
  let decoded;
  try {
    decoded = [rawPath, ctx.path].map((path) => path.split('/').map(decodeURIComponent).join('/'));
  } catch {
    throw new S3Error('InvalidURI', 'Couldn\\'t parse the specified URI.');
  }
  for (const path of decoded) {
    const bucket = path.split('/')[1] ?? '';
    if (bucket !== '' && (!BUCKET.test(bucket) || bucket.includes('..'))) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid: 3 to 63 lower-case letters, digits, dots and hyphens.', { BucketName: bucket });
    checkSegments(path);
  }
  const copySource = ctx.req.headers['x-amz-copy-source'];
  if (copySource !== undefined) {
    let source;
    try {
      source = decodeURIComponent(copySource);
    } catch {
      throw new S3Error('InvalidArgument', 'x-amz-copy-source is not a valid URI.');
    }
    checkSegments(source.replace(/[?&=]/g, '/'));
  }
  if ('uploadId' in query && !/^[0-9a-f]{32}$/.test(query.uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
  if ('partNumber' in query && !/^[1-9][0-9]{0,4}$/.test(query.partNumber)) throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
}

// 3 and 4. keys: access key id -> secret.
// Answers whether the request was presigned (its body then signed by nothing).
async function verifySignature(ctx, keys, query) {
  const url = ctx.req.url;
  const mark = url.indexOf('?');
  const header = ctx.req.headers.authorization;
  const authParameters = Object.keys(query).filter((name) => AUTH_PARAMETER.test(name));
  if (header === undefined && authParameters.length === 0) throw refused('sign the request (AWS Signature Version 4) with the access key of the local stack.');
  if (header !== undefined && authParameters.length > 0) throw refused('sign with an Authorization header or a presigned query, not both.');
  const presigned = header === undefined;
  // s3rver copies every x-amz-* query parameter over the headers: none but a presigned URL's own.
  const ownParameters = presigned ? [...PRESIGN_PARAMETERS, 'X-Amz-Content-Sha256'] : [];
  if (Object.keys(query).some((name) => /^x-amz-/i.test(name) && !ownParameters.includes(name))) throw refused('x-amz-* query parameters other than a presigned URL\\'s own are not accepted.');
  let credential, signedHeaders, signature, date;
  if (presigned) {
    if (authParameters.some((name) => !PRESIGN_PARAMETERS.includes(name)) || PRESIGN_PARAMETERS.some((name) => typeof query[name] !== 'string') || query['X-Amz-Algorithm'] !== ALGORITHM) {
      throw refused('a presigned URL must carry each of ' + PRESIGN_PARAMETERS.join(', ') + ' once, with X-Amz-Algorithm=' + ALGORITHM + '.');
    }
    ({ 'X-Amz-Credential': credential, 'X-Amz-SignedHeaders': signedHeaders, 'X-Amz-Signature': signature, 'X-Amz-Date': date } = query);
    if (!/^[1-9][0-9]{0,5}$/.test(query['X-Amz-Expires']) || Number(query['X-Amz-Expires']) > 604800) throw refused('X-Amz-Expires must be whole seconds from 1 to 604800.');
  } else {
    if (typeof header !== 'string' || !header.startsWith(ALGORITHM + ' ')) throw refused('only AWS Signature Version 4 is accepted (Authorization: ' + ALGORITHM + ' Credential=..., SignedHeaders=..., Signature=...).');
    const parts = {};
    for (const part of header.slice(ALGORITHM.length + 1).split(',')) {
      const [name, ...value] = part.trim().split('=');
      if (name in parts) throw denied();
      parts[name] = value.join('=');
    }
    ({ Credential: credential, SignedHeaders: signedHeaders, Signature: signature } = parts);
    date = ctx.req.headers['x-amz-date'];
    if (!PAYLOAD_HASH.test(ctx.req.headers['x-amz-content-sha256'] ?? '')) throw refused('x-amz-content-sha256 must be the SHA-256 of the payload (64 hex digits) or UNSIGNED-PAYLOAD: streaming (aws-chunked) uploads are not accepted by the local S3 server.');
  }
  const [accessKeyId, scopeDate, region, service, terminator, ...rest] = String(credential).split('/');
  const secretAccessKey = keys.get(accessKeyId);
  if (secretAccessKey === undefined) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId });
  const signingDate = fromAmzDate(date);
  if (!signingDate || scopeDate !== date.slice(0, 8) || !region || !service || terminator !== 'aws4_request' || rest.length > 0 || typeof signedHeaders !== 'string' || typeof signature !== 'string') throw denied();
  const names = signedHeaders.split(';');
  // Every signed header is one the request carries (AWS refuses a request that lacks one), host always; and every
  // x-amz-* header the request carries is signed (x-amz-content-sha256 of a header-signed request among them).
  if (!names.includes('host') || names.some((name) => ctx.req.headers[name] === undefined)) throw denied();
  if (Object.keys(ctx.req.headers).some((name) => name.startsWith('x-amz-') && !names.includes(name))) throw denied();
  if (!presigned && !names.includes('x-amz-content-sha256')) throw denied();
  const headers = {};
  for (const name of names) headers[name] = String(ctx.req.headers[name]);
  const signer = new SignatureV4({ credentials: { accessKeyId, secretAccessKey }, region, service, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
  const request = { method: ctx.method, protocol: 'http:', hostname: ctx.hostname, path: mark < 0 ? url : url.slice(0, mark), query, headers };
  if (presigned) {
    const unsignedQuery = { ...query };
    delete unsignedQuery['X-Amz-Signature'];
    // Presigned S3 URLs sign no payload: the AWS SDK states it in the query (X-Amz-Content-Sha256, hoisted there
    // from the header the signer reads it from, under that name), other signers leave it out (then neither hoisted nor signed).
    const stated = 'X-Amz-Content-Sha256' in query;
    if (stated && query['X-Amz-Content-Sha256'] !== 'UNSIGNED-PAYLOAD') throw denied();
    headers['X-Amz-Content-Sha256'] = 'UNSIGNED-PAYLOAD';
    const unstated = new Set(stated ? [] : ['x-amz-content-sha256']);
    const again = await signer.presign({ ...request, query: unsignedQuery }, {
      signingDate, expiresIn: Number(query['X-Amz-Expires']), signableHeaders: new Set(names), unhoistableHeaders: unstated, unsignableHeaders: unstated,
    });
    // What signing again writes must be what was sent, to the character (a padded expiry, a header list with one more).
    for (const name of PRESIGN_PARAMETERS) if (name !== 'X-Amz-Signature' && again.query[name] !== query[name]) throw denied();
    if (!sameSignature(again.query['X-Amz-Signature'], signature)) throw denied();
  } else {
    const again = await signer.sign(request, { signingDate, signableHeaders: new Set(names) });
    const expected = /SignedHeaders=([^,]+), Signature=([0-9a-f]+)$/.exec(again.headers.authorization);
    if (!expected || expected[1] !== signedHeaders || !sameSignature(expected[2], signature)) throw denied();
  }
  return presigned;
}

// 5. A body whose SHA-256 was signed is read and hashed before s3rver sees it; s3rver then reads the same bytes
// from a stream standing in for the request (the request's own fields: headers, url, method, socket...).
const MAX_SIGNED_BODY_BYTES = 64 * 1024 * 1024;
async function checkPayload(ctx) {
  const stated = ctx.req.headers['x-amz-content-sha256'];
  const chunks = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > MAX_SIGNED_BODY_BYTES) throw new S3Error('EntityTooLarge', 'The local S3 server reads a request body into memory before storing it, up to ' + MAX_SIGNED_BODY_BYTES + ' bytes: upload larger objects in parts (multipart upload).');
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (stated !== undefined && stated !== 'UNSIGNED-PAYLOAD' && createHash('sha256').update(body).digest('hex') !== stated) {
    throw Object.assign(new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed."), { status: 400, expose: true });
  }
  const original = ctx.req;
  const replay = new PassThrough();
  replay.end(body);
  const stand = new Proxy(replay, { get: (target, name) => (name in target ? Reflect.get(target, name) : Reflect.get(original, name)) });
  ctx.req = ctx.request.req = ctx.response.req = stand;
}

const guard = (server, { pattern, flags, message }) => {
  const { S3_LOCAL_ACCESS_KEY_ID: accessKeyId, S3_LOCAL_SECRET_ACCESS_KEY: secretAccessKey } = process.env;
  if (!accessKeyId || !secretAccessKey) throw new Error('the local S3 server needs an access key: S3_LOCAL_ACCESS_KEY_ID and S3_LOCAL_SECRET_ACCESS_KEY');
  AWSAccount.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const keys = new Map([[accessKeyId, secretAccessKey]]);
  const loopback = new RegExp(pattern, flags);
  server.middleware.unshift(async (ctx, next) => {
    const host = ctx.get('host');
    if (!loopback.test(host)) {
      ctx.status = 421;
      ctx.type = 'application/xml';
      ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\\n<Error><Code>MisdirectedRequest</Code><Message>' +
        message.replace('{host}', host).replace(/[<>&'"]/g, (c) => '&#' + c.charCodeAt(0) + ';') + '</Message></Error>';
      return;
    }
    const url = ctx.req.url;
    const mark = url.indexOf('?');
    let query;
    try {
      query = parseQuery(mark < 0 ? '' : url.slice(mark + 1));
    } catch {
      throw denied(); // a malformed escape, or a name no client signs
    }
    checkPath(ctx, mark < 0 ? url : url.slice(0, mark), query);
    // A signed request's body is read whole before s3rver sees it: s3rver writes into the object in place, so a
    // client cut off mid-body left a truncated object under the old ETag and a file handle open. A presigned GET or
    // HEAD (an export link) is never read: its holder cannot make the server hold a body.
    const presigned = await verifySignature(ctx, keys, query);
    if (!presigned || !['GET', 'HEAD'].includes(ctx.method)) await checkPayload(ctx);
    return next();
  });
};
`;

/**
 * s3rver 3.7.1 keeps each key as files in a folder per `/`-separated part, and two of its file-store operations
 * cost time in proportion to the size of a folder, per key: (1) after deleting an object it reads the whole
 * folder (readdirSync) to see whether it became empty, so emptying a folder of n keys reads O(n²) names
 * (measured here: 1,000 keys deleted from a folder of 15,000 took 27 s); (2) its listing stats every file it
 * walks past. S3 itself has no folders, so neither cost is the product's: the local vector store keeps a
 * tenant's vectors under one prefix, as S3 allows. Replaced here: a delete removes the object's files and leaves
 * the folder (S3 has no folders, and the listing yields files only; removing an emptied folder raced a PUT creating
 * a file in it, which then failed, and followed '..' in a key up out of the bucket), and the walk reads the entry
 * types readdir already returns (same order: libuv sorts the names). The walk must be replaced before s3rver's file
 * store loads, since it takes `walk` from its utils module when it loads.
 */
const S3_STORE_PATCH = `
const fs = require('fs');
const path = require('path');
const utils = require('s3rver/lib/utils');
utils.walk = function* walk(dir, recurseFilter) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const filePath = path.posix.join(dir, entry.name);
    if (!entry.isDirectory()) yield filePath;
    else if (!recurseFilter || recurseFilter(filePath)) yield* walk(filePath, recurseFilter);
  }
};
const FilesystemStore = require('s3rver/lib/stores/filesystem');
FilesystemStore.prototype.deleteObject = async function deleteObject(bucket, key) {
  await Promise.all(['object', 'object.md5', 'metadata.json'].map((resource) =>
    fs.promises.unlink(this.getResourcePath(bucket, key, resource)).catch((error) => { if (error.code !== 'ENOENT') throw error; })));
};
`;

/**
 * The one place s3rver's file store turns a bucket and a key into a file path (`getBucketPath`, `getResourcePath`),
 * confined to its folder: whatever reached it (a path, a copy source, a DeleteObjects key, a POST form's `key`), a
 * path outside the folder, or the folder itself, is 400 InvalidURI, and a file name longer than the file system's
 * 255 bytes is 400 KeyTooLongError (s3rver would otherwise crash on ENAMETOOLONG, an error event nothing handles).
 * S3_GUARD refuses most of these earlier with a clearer message; this is what holds when a route it does not know of
 * hands s3rver a name.
 */
const S3_STORE_CONFINEMENT = `
const confinedPath = require('path');
const confinedFs = require('fs');
const StoreError = require('s3rver/lib/models/error');
const ConfinedStore = require('s3rver/lib/stores/filesystem');
const leaves = () => new StoreError('InvalidURI', 'The local S3 server refuses a bucket or key that would leave its folder or its bucket.');
// The path below 'within', one name or more, each a file name (at most 255 bytes); only the last may be one of
// s3rver's own ('<key>._S3rver_object', '._S3rver_uploads', '._S3rver_cors.xml'...): a key naming one of them as a
// folder would make s3rver write to or read a folder (EISDIR, on a stream nothing listens to: the server stops).
const confine = (within, resolved) => {
  const relative = confinedPath.relative(within, resolved);
  if (relative === '' || relative.startsWith('..') || confinedPath.isAbsolute(relative)) throw leaves();
  const names = relative.split(confinedPath.sep);
  names.forEach((name, index) => {
    if (Buffer.byteLength(name) > 255) throw new StoreError('KeyTooLongError', 'The local S3 server stores each /-separated part of a key as a file: at most 255 bytes with its suffix.');
    if (index < names.length - 1 && name.includes('._S3rver_')) throw new StoreError('InvalidArgument', 'The local S3 server keeps its own files under names with ._S3rver_: no key may use them.');
  });
  return resolved;
};
const bucketPath = ConfinedStore.prototype.getBucketPath;
const resourcePath = ConfinedStore.prototype.getResourcePath;
ConfinedStore.prototype.getBucketPath = function (bucket) {
  const resolved = confine(this.rootDirectory, bucketPath.call(this, bucket));
  if (confinedPath.relative(this.rootDirectory, resolved).includes(confinedPath.sep)) throw leaves();
  return resolved;
};
// A bucket's resources stay in that bucket (a DeleteObjects key '../other-bucket/k' does not), and a key has no
// '.' or '..' part (not even one that comes back into the bucket).
ConfinedStore.prototype.getResourcePath = function (bucket, key, resource) {
  if (key !== undefined && String(key).split('/').some((part) => part === '.' || part === '..')) throw leaves();
  return confine(this.getBucketPath(bucket), resourcePath.call(this, bucket, key, resource));
};
// UploadPart: to an upload that was created (s3rver would make a folder for any id: 404 NoSuchUpload, as S3 says).
const putPart = ConfinedStore.prototype.putPart;
ConfinedStore.prototype.putPart = async function (bucket, uploadId, partNumber, content) {
  try {
    await confinedFs.promises.access(confinedPath.join(this.getResourcePath(bucket, undefined, 'uploads'), String(uploadId), 'key'));
  } catch {
    throw new StoreError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
  }
  return putPart.call(this, bucket, uploadId, partNumber, content);
};
// CompleteMultipartUpload: every part named must be a number S3 allows, and must have been uploaded (s3rver
// would open a missing part on a stream nothing listens to: the server stops).
// One at a time per upload (an SDK retry sends a second while the first runs): the second then finds the upload
// gone, 404 NoSuchUpload, instead of opening parts the first has just removed.
const multipart = ConfinedStore.prototype.putObjectMultipart;
const completing = new Map();
ConfinedStore.prototype.putObjectMultipart = function (bucket, uploadId, parts) {
  const id = bucket + '/' + uploadId;
  const previous = completing.get(id) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(() => completeChecked.call(this, bucket, uploadId, parts));
  completing.set(id, run);
  run.finally(() => { if (completing.get(id) === run) completing.delete(id); }).catch(() => undefined);
  return run;
};
async function completeChecked(bucket, uploadId, parts) {
  const uploadDir = confinedPath.join(this.getResourcePath(bucket, undefined, 'uploads'), String(uploadId));
  try {
    await confinedFs.promises.access(confinedPath.join(uploadDir, 'key'));
  } catch {
    throw new StoreError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
  }
  for (const part of parts) {
    if (!/^[1-9][0-9]{0,4}$/.test(String(part.number))) throw new StoreError('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive.');
    try {
      await confinedFs.promises.access(confinedPath.join(uploadDir, String(part.number)));
    } catch {
      throw new StoreError('InvalidPart', 'One or more of the specified parts could not be found. The part may not have been uploaded.');
    }
  }
  return multipart.call(this, bucket, uploadId, parts);
}
`;

// Runs inside the child: start s3rver, print the ready line, exit when our stdin reaches end-of-file.
// Two costs of s3rver 3.7.1's file store are replaced first (S3_STORE_PATCH), and its paths confined
// (S3_STORE_CONFINEMENT); everything else is s3rver's own.
const S3_MAIN = `
${S3_STORE_PATCH}
${S3_STORE_CONFINEMENT}
${S3_GUARD}
// A last resort: an error event on a stream s3rver leaves unhandled would stop the server for every client (one
// request fails instead, and the cause is printed).
process.on('uncaughtException', (error) => console.error('local S3 server: a request failed: ' + (error && error.stack || error)));
const S3rver = require('s3rver');
const [port, directory, buckets, hosts] = process.argv.slice(1);
const server = new S3rver({ address: '127.0.0.1', port: Number(port), directory, silent: true,
  configureBuckets: JSON.parse(buckets).map((name) => ({ name, configs: [] })) });
guard(server, JSON.parse(hosts));
server.run().then(() => process.stdout.write('ready\\n'), (error) => { console.error(error.message); process.exit(1); });
process.stdin.on('data', () => undefined);
process.stdin.on('end', () => server.close().finally(() => process.exit(0)));
process.on('SIGINT', () => undefined); // a terminal's Ctrl-C reaches only the parent, which stops us in order
`;

/** The environment's local S3 key (what the local stack and the test run set: useLocalS3Credentials). */
function environmentCredentials(env: NodeJS.ProcessEnv = process.env): LocalCredentials {
  const credentials = localS3Credentials(env);
  if (!credentials) throw new LocalStackError(`The local S3 server needs an access key of its own: set ${LOCAL_S3_KEY_VARIABLES.accessKeyId} and ${LOCAL_S3_KEY_VARIABLES.secretAccessKey}, or pass credentials.`);
  return credentials;
}

async function waitUntilReady(endpoint: string, credentials: LocalCredentials, child: ChildProcess, output: () => string): Promise<void> {
  const client = new S3Client({ ...localS3ClientConfig(endpoint, credentials), maxAttempts: 1 });
  try {
    await waitForChild('The local S3 server', endpoint, child, output, () => client.send(new ListBucketsCommand({})), 30_000, 50);
  } finally {
    client.destroy();
  }
}

/**
 * Start s3rver on 127.0.0.1 and resolve once it answers, accepting `options.credentials` (else the environment's
 * key) only. Throws LocalStackError when it cannot start.
 */
export async function startS3Local(options: S3LocalOptions = {}): Promise<S3Local> {
  const credentials = options.credentials ?? environmentCredentials();
  const temporary = options.directory === undefined;
  const directory = options.directory ?? mkdtempSync(join(tmpdir(), 's3-local-'));
  try {
    return await onFreePort(options.port ?? 0, 'the local S3 server', (port) => startS3LocalOn(port, directory, temporary, credentials, options.buckets ?? []));
  } catch (error) {
    if (temporary) rmSync(directory, { recursive: true, force: true });
    throw error;
  }
}

async function startS3LocalOn(port: number, directory: string, temporary: boolean, credentials: LocalCredentials, buckets: readonly string[]): Promise<S3Local> {
  const endpoint = `http://127.0.0.1:${port}`;
  const hosts = { pattern: LOOPBACK_HOST_PATTERN.source, flags: LOOPBACK_HOST_PATTERN.flags, message: misdirectedMessage('{host}', endpoint) };
  const child = spawn(process.execPath, ['--openssl-legacy-provider', '-e', S3_MAIN, String(port), directory, JSON.stringify(buckets), JSON.stringify(hosts)], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: useLocalS3Credentials(credentials, { ...process.env, NODE_OPTIONS: '' }),
  });
  const owned = ownedChild(child);
  const stop = async () => {
    await owned.stop();
    if (temporary) rmSync(directory, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(endpoint, credentials, child, owned.output);
  } catch (error) {
    await owned.stop(); // the folder stays for another port (startS3Local removes a temporary one at the end)
    throw error;
  }
  return { endpoint, port, process: child, stop };
}
