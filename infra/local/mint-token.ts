/**
 * `npm run token -- --tenant acme-corp` (or `--operator`, the default): print a JWT for the local stack, from the
 * local issuer of its data folder (.local/, or `--data-dir` / LOCAL_DATA_DIR as given to npm start), valid 1 h
 * unless `--ttl` says otherwise. On AWS, tokens come from the stack's identity provider (README: Authentication).
 * See mintLocalToken; exits 2, saying why, on a usage error (an invalid tenant id among them).
 */
import { TokenUsageError, mintLocalToken } from './local-settings';

try {
  process.stdout.write(`${mintLocalToken(process.argv.slice(2))}\n`);
} catch (error) {
  if (!(error instanceof TokenUsageError) && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') !== true) throw error;
  process.stderr.write(`npm run token: ${(error as Error).message}\n`);
  process.exit(2);
}
