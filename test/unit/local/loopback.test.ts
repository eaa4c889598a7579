/**
 * What keeps the local stack to its own clients: the Host names its HTTP servers answer (DNS rebinding), the
 * random access key of a test run or a data folder (DynamoDB Local keeps one database per key), and the adoption
 * of a database an older stack made for every key (`-sharedDb`).
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStackError, SHARED_DATABASE_FILE, adoptSharedDatabase, databaseFileName } from '../../../infra/local/dynamodb-local';
import { startS3Local } from '../../../infra/local/s3-local';
import { isLoopbackHost, refuseMisdirected } from '../../../infra/local/loopback-host';
import { applyLoopbackEnvironment, localS3Credentials, newLocalCredentials, useLocalCredentials, useLocalS3Credentials } from '../../../infra/local/loopback-env';
import { LOCAL_AWS_CREDENTIALS_FILE, TokenUsageError, localAwsCredentials } from '../../../infra/local/local-settings';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'loopback-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Function: isLoopbackHost', () => {
  it.each(['127.0.0.1', '127.0.0.1:3000', 'localhost', 'LocalHost:8000', '[::1]', '[::1]:4569'])('should accept %s', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });

  it.each([undefined, '', 'attacker.example', '127.0.0.1.attacker.example', 'localhost.attacker.example:3000', 'app.localhost', 'localhost.', '127.0.0.2', '0.0.0.0:3000', '[::1].attacker.example', '127.0.0.1:3000:1', 'localhost:', 'localhost:123456'])(
    'should refuse %s',
    (host) => {
      expect(isLoopbackHost(host)).toBe(false);
    },
  );
});

describe('Function: refuseMisdirected', () => {
  it('should answer 421 MISDIRECTED_REQUEST naming the Host refused and the address to use, and nothing for a loopback Host', () => {
    const refused = refuseMisdirected('attacker.example:3000', 'http://127.0.0.1:3000');
    expect(refused?.statusCode).toBe(421);
    expect(JSON.parse(refused?.body as string)).toEqual({
      error: { code: 'MISDIRECTED_REQUEST', message: expect.stringMatching(/not to Host 'attacker\.example:3000'.*DNS rebinding.*Use http:\/\/127\.0\.0\.1:3000\.$/) },
    });
    expect(JSON.parse(refuseMisdirected(undefined, 'http://127.0.0.1:3000')?.body as string).error.message).toContain('not to a request without a Host header');
    expect(refuseMisdirected('localhost:3000', 'http://127.0.0.1:3000')).toBeUndefined();
  });
});

describe('Function: newLocalCredentials', () => {
  it('should make a key id DynamoDB Local can name a file after, and a secret, different each time', () => {
    const first = newLocalCredentials();
    expect(first.accessKeyId).toMatch(/^LOCAL[0-9A-F]{20}$/);
    expect(first.secretAccessKey).toMatch(/^[\w-]{40}$/);
    expect(newLocalCredentials().accessKeyId).not.toBe(first.accessKeyId);
  });
});

describe('Function: applyLoopbackEnvironment', () => {
  it('should give a process without credentials a random key, never a shared constant, and keep a key it was given', () => {
    const bare: NodeJS.ProcessEnv = {};
    applyLoopbackEnvironment(bare);
    expect(bare.AWS_ACCESS_KEY_ID).toMatch(/^LOCAL[0-9A-F]{20}$/);
    expect(bare).toMatchObject({ AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9' });
    const given: NodeJS.ProcessEnv = { AWS_EC2_METADATA_DISABLED: 'false' };
    useLocalCredentials({ accessKeyId: 'LOCALRUNKEY0000000000', secretAccessKey: 's' }, given);
    applyLoopbackEnvironment(given);
    expect(given).toMatchObject({ AWS_ACCESS_KEY_ID: 'LOCALRUNKEY0000000000', AWS_SECRET_ACCESS_KEY: 's', AWS_EC2_METADATA_DISABLED: 'true' });
  });

  it('should drop a session token with the key it replaces', () => {
    const env: NodeJS.ProcessEnv = { AWS_ACCESS_KEY_ID: 'ASIAREAL', AWS_SECRET_ACCESS_KEY: 'x', AWS_SESSION_TOKEN: 'token' };
    useLocalCredentials(newLocalCredentials(), env);
    expect(env.AWS_SESSION_TOKEN).toBeUndefined();
  });
});

describe('Functions: useLocalS3Credentials, localS3Credentials', () => {
  it("should keep the S3 server's key beside the DynamoDB key, never in its place, and answer nothing while half of it is missing", () => {
    const env: NodeJS.ProcessEnv = {};
    useLocalCredentials({ accessKeyId: 'LOCALDYNAMO', secretAccessKey: 'd' }, env);
    expect(useLocalS3Credentials({ accessKeyId: 'LOCALS3', secretAccessKey: 's' }, env)).toBe(env);
    expect(env).toMatchObject({ AWS_ACCESS_KEY_ID: 'LOCALDYNAMO', S3_LOCAL_ACCESS_KEY_ID: 'LOCALS3', S3_LOCAL_SECRET_ACCESS_KEY: 's' });
    expect(localS3Credentials(env)).toEqual({ accessKeyId: 'LOCALS3', secretAccessKey: 's' });
    delete env.S3_LOCAL_SECRET_ACCESS_KEY;
    expect(localS3Credentials(env)).toBeUndefined();
  });
});

describe('Function: localAwsCredentials', () => {
  it('should make the key of a data folder once, readable by its owner only, with the region of then, and answer it after', () => {
    const dataDir = join(root, 'data');
    const made = localAwsCredentials(dataDir, { AWS_REGION: 'eu-west-1' });
    expect(made).toEqual({ accessKeyId: expect.stringMatching(/^LOCAL[0-9A-F]{20}$/), secretAccessKey: expect.any(String), region: 'eu-west-1' });
    expect(statSync(join(dataDir, LOCAL_AWS_CREDENTIALS_FILE)).mode & 0o777).toBe(0o600);
    // The region is the database's: a later AWS_REGION does not move it.
    expect(localAwsCredentials(dataDir, { AWS_REGION: 'us-west-2' })).toEqual(made);
    expect(localAwsCredentials(join(root, 'another'), {})).toMatchObject({ region: 'us-east-1' });
    expect(localAwsCredentials(join(root, 'another'), {}).accessKeyId).not.toBe(made.accessKeyId);
  });

  it('should narrow a key file others could read to its owner', () => {
    const dataDir = join(root, 'data');
    localAwsCredentials(dataDir, {});
    chmodSync(join(dataDir, LOCAL_AWS_CREDENTIALS_FILE), 0o644);
    localAwsCredentials(dataDir, {});
    expect(statSync(join(dataDir, LOCAL_AWS_CREDENTIALS_FILE)).mode & 0o777).toBe(0o600);
  });

  it.each(['not json', '{}', '{"accessKeyId":"lower_case","secretAccessKey":"s","region":"us-east-1"}', '{"accessKeyId":"LOCAL0123456789ABCDEF","secretAccessKey":"","region":"us-east-1"}', '{"accessKeyId":"LOCAL0123456789ABCDEF","secretAccessKey":"s","region":"../x"}'])(
    'should refuse a key file that is not a key (%s), saying what to do',
    (content) => {
      writeFileSync(join(root, LOCAL_AWS_CREDENTIALS_FILE), content, { mode: 0o600 });
      expect(() => localAwsCredentials(root, {})).toThrow(TokenUsageError);
      expect(() => localAwsCredentials(root, {})).toThrow(/is not the local stack's AWS key .*npm start -- --reset/);
    },
  );
});

describe('Function: adoptSharedDatabase', () => {
  it('should make the shared database (and a journal a crash left) the key\'s', () => {
    writeFileSync(join(root, SHARED_DATABASE_FILE), 'db');
    writeFileSync(join(root, `${SHARED_DATABASE_FILE}-journal`), 'journal');
    expect(adoptSharedDatabase(root, 'LOCALKEY0000000000000', 'eu-west-1')).toBe('adopted');
    expect(readdirSync(root).sort()).toEqual(['LOCALKEY0000000000000_eu-west-1.db', 'LOCALKEY0000000000000_eu-west-1.db-journal']);
    expect(databaseFileName('LOCALKEY0000000000000', 'eu-west-1')).toBe('LOCALKEY0000000000000_eu-west-1.db');
  });

  it('should do nothing without a shared database, and leave a shared one beside the key\'s own', () => {
    expect(adoptSharedDatabase(root, 'LOCALKEY0000000000000', 'us-east-1')).toBe('none');
    writeFileSync(join(root, 'LOCALKEY0000000000000_us-east-1.db'), 'own');
    writeFileSync(join(root, SHARED_DATABASE_FILE), 'shared');
    expect(adoptSharedDatabase(root, 'LOCALKEY0000000000000', 'us-east-1')).toBe('kept-both');
    expect(existsSync(join(root, SHARED_DATABASE_FILE))).toBe(true);
  });
});

describe('Function: startS3Local', () => {
  it('should refuse to start without a key of its own (never the S3RVER key every install shared, nor the DynamoDB key)', async () => {
    const saved = { ...process.env };
    // The environment's DynamoDB key is there; the S3 key is not (the integration run's, inherited, is removed).
    useLocalCredentials(newLocalCredentials());
    delete process.env.S3_LOCAL_ACCESS_KEY_ID;
    delete process.env.S3_LOCAL_SECRET_ACCESS_KEY;
    try {
      await expect(startS3Local()).rejects.toThrow(LocalStackError);
      await expect(startS3Local()).rejects.toThrow('The local S3 server needs an access key of its own: set S3_LOCAL_ACCESS_KEY_ID and S3_LOCAL_SECRET_ACCESS_KEY');
    } finally {
      process.env = saved;
    }
  });
});
