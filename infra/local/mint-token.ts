/**
 * `npm run token -- --tenant acme-corp` (or `--operator`): print an API token for the local stack, signed
 * with the key in its data folder (.local/, or `--data-dir` / LOCAL_DATA_DIR as given to npm start). For AWS,
 * sign with the key in the stack's TokenSecret the same way. See mintLocalToken; exits 2 on a usage error.
 */
import { TokenUsageError, mintLocalToken } from './local-settings';

try {
  process.stdout.write(`${mintLocalToken(process.argv.slice(2))}\n`);
} catch (error) {
  if (!(error instanceof TokenUsageError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(2);
}
