/**
 * `npm start`'s command line and the lines it prints: options from arguments or environment, one-line errors
 * for bad options, the banner, and the workflow-outcome line.
 */
import { join, resolve } from 'node:path';
import { LocalStackError } from '../../../infra/local/dynamodb-local';
import { DEFAULT_DATA_DIR } from '../../../infra/local/local-settings';
import { START_USAGE, bannerLines, parseStartOptions, startErrorLine, workflowLine } from '../../../infra/local/local-stack';

/** What `npm start` prints to stderr for these arguments: the line, which must be one line. */
function errorFor(args: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parseStartOptions(args, env);
  } catch (error) {
    return startErrorLine(error);
  }
  throw new Error(`parseStartOptions accepted ${args.join(' ')}`);
}

describe('Function: parseStartOptions', () => {
  it('should default to API 3000, DynamoDB Local 8000 and .local/, without --reset', () => {
    expect(parseStartOptions([], {})).toEqual({ apiPort: 3000, dynamoPort: 8000, s3Port: 0, dataDir: DEFAULT_DATA_DIR, reset: false, rotateKeys: false, clock: 'wall' });
  });

  it('should take PORT, DYNAMODB_PORT, S3_PORT and LOCAL_DATA_DIR, and let options win over them', () => {
    const env = { PORT: '4000', DYNAMODB_PORT: '8001', S3_PORT: '4569', LOCAL_DATA_DIR: '/srv/data' };
    expect(parseStartOptions([], env)).toEqual({ apiPort: 4000, dynamoPort: 8001, s3Port: 4569, dataDir: '/srv/data', reset: false, rotateKeys: false, clock: 'wall' });
    expect(parseStartOptions(['--port', '5000', '--dynamodb-port=9000', '--s3-port', '9001', '--data-dir', 'mine', '--reset'], env)).toEqual({ apiPort: 5000, dynamoPort: 9000, s3Port: 9001, dataDir: resolve('mine'), reset: true, rotateKeys: false, clock: 'wall' });
    expect(parseStartOptions(['--rotate-keys'], {})).toMatchObject({ reset: false, rotateKeys: true });
  });

  it('should refuse a port that is not 1-65535 with one line naming the option, the value and the usage', () => {
    expect(errorFor(['--port', 'abc'])).toBe(`npm start: --port must be a port number 1-65535, got 'abc'. ${START_USAGE}`);
    expect(errorFor(['--dynamodb-port', '70000'])).toBe(`npm start: --dynamodb-port must be a port number 1-65535, got '70000'. ${START_USAGE}`);
    expect(errorFor([], { PORT: '0' })).toBe(`npm start: --port must be a port number 1-65535, got '0'. ${START_USAGE}`);
    expect(errorFor([], { DYNAMODB_PORT: '80.5' })).toContain("--dynamodb-port must be a port number 1-65535, got '80.5'.");
    expect(errorFor(['--s3-port=-1'])).toBe(`npm start: --s3-port must be a port number 0-65535 (0: a free one), got '-1'. ${START_USAGE}`);
  });

  it('should take the clock from --clock, else LOCAL_CLOCK, else the wall clock', () => {
    expect(parseStartOptions(['--clock=simulated'], {}).clock).toBe('simulated');
    expect(parseStartOptions(['--clock', 'simulated'], {}).clock).toBe('simulated');
    expect(parseStartOptions([], { LOCAL_CLOCK: 'simulated' }).clock).toBe('simulated');
    expect(parseStartOptions(['--clock=wall'], { LOCAL_CLOCK: 'simulated' }).clock).toBe('wall');
  });

  it('should refuse a clock that is neither wall nor simulated with one line naming the value and the usage', () => {
    expect(errorFor(['--clock=fast'])).toBe(`npm start: --clock must be one of wall, simulated, got 'fast'. ${START_USAGE}`);
    expect(errorFor([], { LOCAL_CLOCK: 'SIMULATED' })).toBe(`npm start: --clock must be one of wall, simulated, got 'SIMULATED'. ${START_USAGE}`);
  });

  it('should refuse an unknown option or an argument with node\'s one-line message', () => {
    expect(errorFor(['--bogus'])).toBe("npm start: Unknown option '--bogus'");
    expect(errorFor(['extra'])).toBe("npm start: Unexpected argument 'extra'. This command does not take positional arguments");
    expect(() => parseStartOptions(['--bogus'], {})).toThrow(expect.objectContaining({ name: 'TypeError', code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' }));
  });
});

describe('Function: startErrorLine', () => {
  it('should print our errors by their message, and anything unexpected with its stack to report', () => {
    expect(startErrorLine(new LocalStackError('DynamoDB Local needs Java'))).toBe('npm start: DynamoDB Local needs Java');
    const unexpected = new RangeError('boom');
    expect(startErrorLine(unexpected)).toBe(`npm start: ${unexpected.stack}`);
    expect(startErrorLine({ name: 'Odd' })).toBe('npm start: [object Object]');
  });
});

describe('Function: bannerLines', () => {
  const info = { url: 'http://127.0.0.1:3000', dynamoEndpoint: 'http://127.0.0.1:8000', s3Endpoint: 'http://127.0.0.1:4569', databaseDir: join('/data', 'dynamodb'), tokens: { operator: 'eyJ.op.sig', acme: 'eyJ.acme.sig', expiresAt: '2026-11-30T23:00:00.000Z' }, signingKeyId: 'local-kid-1', stripeWebhookSecret: 'whsec_local123', clock: 'wall' as const, aws: { accessKeyId: 'LOCAL0123456789ABCDEF0123', secretAccessKey: 'c2VjcmV0', region: 'eu-west-1', file: join('/data', 'aws-credentials.json') }, s3Key: { accessKeyId: 'LOCALFEDCBA9876543210FEDC', secretAccessKey: 'czNzZWNyZXQ' }, dynamoListensOn: '127.0.0.1' as const };

  it('should say where the API and the data are, and give the exports and a first curl', () => {
    const text = bannerLines({ ...info, seeded: 4 }).join('\n');
    expect(text).toContain('Tenant lifecycle control plane (local) is up: http://127.0.0.1:3000');
    expect(text).toContain("DynamoDB Local   http://127.0.0.1:8000  table 'tenant-lifecycle', data in /data/dynamodb (demo tenants seeded)");
    expect(text).toContain("S3 (s3rver)      http://127.0.0.1:4569  buckets 'tenant-documents' (documents, vectors), 'tenant-exports'");
    expect(text).toContain('  export API=http://127.0.0.1:3000\n  export TOKEN=eyJ.op.sig\n  export ACME_TOKEN=eyJ.acme.sig   # tenant-scoped: reads acme-corp only');
    expect(text).toContain('  # TOKEN and ACME_TOKEN expire at 2026-11-30T23:00:00.000Z; more: npm run token [-- --tenant <id>] [--ttl 8h]; keys: $API/.well-known/jwks.json (kid local-kid-1)');
    expect(text).toContain('curl -s -H "Authorization: Bearer $TOKEN" "$API/tenants"');
    expect(text.endsWith('Press Ctrl-C to stop.')).toBe(true);
  });

  it('should say how to move a simulated clock, and say nothing of the clock on the wall clock', () => {
    expect(bannerLines({ ...info, seeded: 0, clock: 'simulated' }).join('\n')).toContain(
      `Clock            simulated: curl -s -X POST "$API/_local/clock" -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" -d '{"advanceSeconds":3600}'`,
    );
    expect(bannerLines({ ...info, seeded: 0 }).join('\n')).not.toContain('_local/clock');
  });

  it('should print the Stripe webhook signing secret beside the tokens, and where signed events go', () => {
    const text = bannerLines({ ...info, seeded: 0 }).join('\n');
    expect(text).toContain('  export ACME_TOKEN=eyJ.acme.sig   # tenant-scoped: reads acme-corp only\n  export STRIPE_WEBHOOK_SECRET=whsec_local123');
    expect(text).toContain('POST $API/webhooks/stripe');
  });

  it('should say where the data folder\'s AWS key is and that S3 has its own, with an AWS CLI command for each', () => {
    const text = bannerLines({ ...info, seeded: 0 }).join('\n');
    expect(text).toContain(`only the data folder's key sees the table in DynamoDB Local (${join('/data', 'aws-credentials.json')}); S3 has a key of its own, new at each start.`);
    expect(text).toContain('AWS_ACCESS_KEY_ID=LOCAL0123456789ABCDEF0123 AWS_SECRET_ACCESS_KEY=c2VjcmV0 AWS_DEFAULT_REGION=eu-west-1 aws dynamodb scan --table-name tenant-lifecycle --endpoint-url http://127.0.0.1:8000');
    expect(text).toContain('AWS_ACCESS_KEY_ID=LOCALFEDCBA9876543210FEDC AWS_SECRET_ACCESS_KEY=czNzZWNyZXQ AWS_DEFAULT_REGION=us-east-1 aws s3 ls s3://tenant-exports --recursive --endpoint-url http://127.0.0.1:4569');
  });

  it('should say where DynamoDB Local listens, and what binds it to loopback where it cannot be', () => {
    expect(bannerLines({ ...info, seeded: 0 }).join('\n')).toContain('# DynamoDB Local listens on 127.0.0.1 only, as do the API and S3.');
    expect(bannerLines({ ...info, seeded: 0, dynamoListensOn: 'every interface' }).join('\n')).toContain(
      '# DynamoDB Local listens on every interface (install a JDK, with javac, to bind it to 127.0.0.1); its data needs the key below.',
    );
  });

  it('should say that the data was kept, and how to start over, when nothing was seeded', () => {
    expect(bannerLines({ ...info, seeded: 0 }).join('\n')).toContain('data in /data/dynamodb (kept from the last run; --reset to start over)');
  });
});

describe('Function: workflowLine', () => {
  it('should name the workflow, operation, tenant and status, and the cause when there is one', () => {
    const outcome = { workflow: 'plan-change', operationId: 'op-1', tenantId: 'acme-corp', status: 'succeeded' } as const;
    expect(workflowLine(outcome)).toBe('workflow plan-change op-1 tenant=acme-corp succeeded');
    expect(workflowLine({ ...outcome, status: 'rolled_back', cause: 'DrainTimeoutError: 1 in-flight query' })).toBe('workflow plan-change op-1 tenant=acme-corp rolled_back cause=DrainTimeoutError: 1 in-flight query');
  });

  it('should end with how long the workflow ran, rounded to the millisecond', () => {
    const outcome = { workflow: 'plan-change', operationId: 'op-1', tenantId: 'acme-corp', status: 'rolled_back', cause: 'DrainTimeoutError: late', durationMs: 1234.6 } as const;
    expect(workflowLine(outcome)).toBe('workflow plan-change op-1 tenant=acme-corp rolled_back cause=DrainTimeoutError: late (1235 ms)');
  });
});
