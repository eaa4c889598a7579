/**
 * `npm run token -- --tenant acme-corp` (or `--operator`): print an API token for the local stack, signed
 * with the key in its data folder (.local/, or `--data-dir` / LOCAL_DATA_DIR as given to npm start). For AWS,
 * sign with the key in the stack's TokenSecret the same way.
 */
import { parseArgs } from 'node:util';
import { signToken } from '../../functions/auth/api-tokens';
import { localDataDir, localTokenKey } from './local-settings';

const { values } = parseArgs({
  options: { tenant: { type: 'string' }, operator: { type: 'boolean', default: false }, subject: { type: 'string' }, 'ttl-hours': { type: 'string' }, 'data-dir': { type: 'string' } },
  strict: true,
});
if (!values.tenant && !values.operator) {
  process.stderr.write('usage: npm run token -- --operator | --tenant <tenantId> [--subject NAME] [--ttl-hours N] [--data-dir PATH]\n');
  process.exit(2);
}
const ttlHours = values['ttl-hours'] === undefined ? undefined : Number(values['ttl-hours']);
if (ttlHours !== undefined && !(ttlHours > 0)) {
  process.stderr.write('--ttl-hours must be a positive number\n');
  process.exit(2);
}
const principal = values.tenant
  ? { subject: values.subject ?? `${values.tenant}-app`, role: 'tenant' as const, tenantId: values.tenant }
  : { subject: values.subject ?? 'local-operator', role: 'operator' as const };
process.stdout.write(`${signToken(principal, localTokenKey(localDataDir(values['data-dir'])), { ttlSeconds: ttlHours === undefined ? undefined : Math.round(ttlHours * 3600) })}\n`);
