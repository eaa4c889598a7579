/** Runs before each test file: loopback-only AWS settings, quiet Powertools, and a table of the file's own. */
import { randomUUID } from 'node:crypto';
import { applyLoopbackEnvironment } from '../../infra/local/loopback-env';
import { applyLocalRateLimits } from '../../infra/local/local-rate-limits';

applyLoopbackEnvironment();
// The API's per-caller rate limit runs in every test as locally: on, with the local stack's generous limits.
applyLocalRateLimits();
// Any AWS client a test forgets to point somewhere lands on a closed loopback port, never on AWS.
process.env.AWS_ENDPOINT_URL ??= 'http://127.0.0.1:9';
process.env.TABLE_NAME = `lifecycle-test-${randomUUID().slice(0, 8)}`;
process.env.POWERTOOLS_LOG_LEVEL ??= 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
// The webhook signing secret POST /webhooks/stripe verifies with (tests sign with it through the real Stripe SDK).
process.env.STRIPE_WEBHOOK_SECRET ??= 'whsec_test_0123456789abcdef0123456789abcdef';
