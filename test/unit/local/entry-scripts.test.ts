/**
 * The entry files of `npm start`, `npm run token` and `npm run openapi`, run in this process with their
 * command line: what they print to stdout and stderr and the exit code they ask for, as a user sees them.
 * (`npm start` reaching the point of starting the stack is run for real in npm-start-*.test.ts.)
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { OPENAPI_JSON_PATH } from '../../../functions/api/openapi';
import { LocalIssuer, TOKEN_USAGE } from '../../../infra/local/local-issuer';
import { SIGNING_KEYS_FILE } from '../../../infra/local/local-settings';
import { START_USAGE } from '../../../infra/local/local-stack';

const ENTRIES = join(__dirname, '..', '..', '..', 'infra', 'local');

interface Run {
  stdout: string;
  stderr: string;
  /** What process.exit was called with; undefined when it was not called (exit code 0). */
  code: number | undefined;
}

/** Load the entry file fresh with `args` as its command line; process.exit and the output are captured. */
async function runEntry(file: string, args: string[]): Promise<Run> {
  const run: Run = { stdout: '', stderr: '', code: undefined };
  const argv = process.argv;
  process.argv = [argv[0] as string, join(ENTRIES, file), ...args];
  const capture = (stream: 'stdout' | 'stderr') =>
    jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
      run[stream] += String(chunk);
      return true;
    });
  const spies = [capture('stdout'), capture('stderr'), jest.spyOn(process, 'exit').mockImplementation(((code?: number) => void (run.code ??= code)) as never)];
  try {
    await jest.isolateModulesAsync(async () => {
      await import(join(ENTRIES, file));
    });
    await new Promise((resolve) => setImmediate(resolve)); // an async main's catch
  } finally {
    for (const spy of spies) spy.mockRestore();
    process.argv = argv;
  }
  return run;
}

let dataDir: string;
beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'entry-'));
});
afterEach(() => rmSync(dataDir, { recursive: true, force: true }));

describe('Script: start.ts (npm start)', () => {
  it('should exit 1 with one line on stderr for a bad option, before starting anything', async () => {
    expect(await runEntry('start.ts', ['--port', 'abc'])).toEqual({ stdout: '', stderr: `npm start: --port must be a port number 1-65535, got 'abc'. ${START_USAGE}\n`, code: 1 });
    expect(await runEntry('start.ts', ['--bogus'])).toEqual({ stdout: '', stderr: "npm start: Unknown option '--bogus'\n", code: 1 });
  });
});

describe('Script: mint-token.ts (npm run token)', () => {
  it("should print a JWT of the data folder's issuer, signed with its current key, and exit 0", async () => {
    LocalIssuer.open(dataDir); // the issuer npm start made
    const run = await runEntry('mint-token.ts', ['--tenant', 'acme-corp', '--data-dir', dataDir]);

    expect(run).toEqual({ stdout: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+\n$/), stderr: '', code: undefined });
    expect(decodeProtectedHeader(run.stdout.trim())).toEqual({ alg: 'RS256', typ: 'JWT', kid: LocalIssuer.open(dataDir).currentKid });
    expect(decodeJwt(run.stdout.trim())).toMatchObject({ iss: 'urn:tenant-lifecycle:local', aud: 'tenant-lifecycle', scope: 'tenant-lifecycle/tenant', tenant_id: 'acme-corp' });
  });

  it('should refuse, exit 2 and make no keys, for a data folder no local stack has run on (a token there would be refused by every local API)', async () => {
    const nowhere = join(dataDir, 'typo');
    expect(await runEntry('mint-token.ts', ['--data-dir', nowhere])).toEqual({
      stdout: '',
      stderr: `npm run token: No local issuer in ${nowhere} (no ${SIGNING_KEYS_FILE}): start the local stack on this folder first (npm start -- --data-dir ${nowhere}), or give the folder npm start uses (--data-dir or LOCAL_DATA_DIR). No token was minted.\n`,
      code: 2,
    });
    expect(existsSync(join(nowhere, SIGNING_KEYS_FILE))).toBe(false);
  });

  it('should say on stderr why it mints nothing and exit 2: an invalid tenant id, both roles, a lifetime out of bounds, an unknown option', async () => {
    expect(await runEntry('mint-token.ts', ['--tenant', 'BAD_ID', '--data-dir', dataDir])).toEqual({
      stdout: '',
      stderr: "npm run token: 'BAD_ID' is not a tenant id: it must be 3 to 63 lowercase letters, digits or hyphens, starting and ending with a letter or digit. No token was minted.\n",
      code: 2,
    });
    expect(await runEntry('mint-token.ts', ['--operator', '--tenant', 'acme-corp', '--data-dir', dataDir])).toEqual({ stdout: '', stderr: `npm run token: Give --tenant <tenantId> or --operator, not both. ${TOKEN_USAGE}\n`, code: 2 });
    expect(await runEntry('mint-token.ts', ['--ttl=0', '--data-dir', dataDir])).toMatchObject({ stdout: '', stderr: expect.stringMatching(/^npm run token: --ttl must be a lifetime from 1m to 24h/), code: 2 });
    expect(await runEntry('mint-token.ts', ['--admin'])).toEqual({ stdout: '', stderr: "npm run token: Unknown option '--admin'\n", code: 2 });
    // `npm run token --tenant BAD_ID` (no --): npm keeps --tenant and hands on BAD_ID alone.
    expect(await runEntry('mint-token.ts', ['BAD_ID'])).toMatchObject({ stdout: '', stderr: expect.stringContaining('(npm passes options on only after --: npm run token -- --tenant <tenantId>)\n'), code: 2 });
  });
});

describe('Script: write-openapi.ts (npm run openapi)', () => {
  it('with --check, should say that the committed document is up to date and exit 0', async () => {
    expect(await runEntry('write-openapi.ts', ['--check'])).toEqual({ stdout: `${OPENAPI_JSON_PATH} is up to date\n`, stderr: '', code: undefined });
  });
});
