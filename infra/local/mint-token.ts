/**
 * `npm run token -- --tenant acme-corp` (or `--operator`, the default): print a JWT for the local stack, from the
 * local issuer of its data folder (.local/, or `--data-dir` / LOCAL_DATA_DIR as given to npm start), valid 1 h
 * unless `--ttl` says otherwise. On AWS, tokens come from the stack's identity provider (README: Authentication).
 * See mintLocalToken; exits 2, saying why, on a usage error (an invalid tenant id among them).
 */
import { mintLocalToken } from './local-issuer';
import { TokenUsageError } from './local-settings';

try {
  process.stdout.write(`${mintLocalToken(process.argv.slice(2))}\n`);
} catch (error) {
  if (!(error instanceof TokenUsageError) && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw error;
  // npm keeps the options before `--` for itself and hands their values on as bare arguments: say how to pass them.
  const hint = (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' ? ' (npm passes options on only after --: npm run token -- --tenant <tenantId>)' : '';
  process.stderr.write(`npm run token: ${(error as Error).message}${hint}\n`);
  process.exit(2);
}
