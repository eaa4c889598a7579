/**
 * One source for each lifecycle rule: outside functions/lifecycle/, no module names a tenant state as a string
 * literal (comparing a tenant's state to one, or putting a tenant in one); it asks the lifecycle module
 * (canTransition, accessFor, INITIAL_STATE, blockedWhen) instead. A state named in a literal elsewhere is a rule
 * restated, which goes stale the day the table changes (issue 8: the lease store blocked `deleting|deleted`
 * while the access policy also blocks `reactivating` from `deleted`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { TENANT_STATES } from '../../../functions/lifecycle/lifecycle-table';

const FUNCTIONS = path.resolve(__dirname, '..', '..', '..', 'functions');

/**
 * Literals that are not tenant states although they are spelled like one: Stripe's subscription schedule
 * statuses (https://docs.stripe.com/api/subscription_schedules/object#subscription_schedule_object-status), Stripe's
 * subscription statuses (https://docs.stripe.com/api/subscriptions/object#subscription_object-status: the list, the
 * ledger's default, the dunning ladder's reading of them and the status an invoice event implies), and the dunning
 * ladder's own record of the tenant's standing (`dunning.standing`: grace or suspended by the ladder).
 */
const NOT_TENANT_STATES = [
  /schedule\.status === 'active'/,
  /now\.status === 'active'/,
  /subscriptions\.list\(\{[^}]*status: 'active'/,
  /SUBSCRIPTION_STATUSES = \[/,
  /isSubscriptionStatus\(Item\.ledgerStatus\) \? Item\.ledgerStatus : 'active'/,
  /^\s*case 'active':$/,
  /'invoice\.(paid|payment_succeeded)': 'active',/,
  /standing(\?)?(: | === )'(grace' \| ')?suspended'/,
  /standing: z\.enum\(\['grace', 'suspended'\]\)/,
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return full.endsWith(`${path.sep}lifecycle`) ? [] : sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** The code of a line, without its comment (`//` to the end, or a TSDoc line). */
function codeOf(line: string): string {
  if (/^\s*(\*|\/\*\*|\/\/)/.test(line)) return '';
  return line.replace(/\s\/\/.*$/, '');
}

describe('Lifecycle rules: asked, never restated', () => {
  it('should name no tenant state as a string literal outside functions/lifecycle/', () => {
    // Prepare
    const literal = new RegExp(`['"\`](${TENANT_STATES.join('|')})['"\`]`);

    // Act
    const restated = sourceFiles(FUNCTIONS).flatMap((file) =>
      readFileSync(file, 'utf8')
        .split('\n')
        .map((line, i) => ({ where: `${path.relative(FUNCTIONS, file)}:${i + 1}`, code: codeOf(line) }))
        .filter(({ code }) => literal.test(code) && !NOT_TENANT_STATES.some((allowed) => allowed.test(code)))
        .map(({ where, code }) => `${where}: ${code.trim()}`),
    );

    // Assess
    expect(restated).toEqual([]);
  });
});
