/**
 * The plan change's adapters follow the deployment's configuration: EventBridge Scheduler with a schedule
 * group, Stripe through Secrets Manager with a secret ARN, Pinecone with a key or a secret; the local
 * scheduler, ledger and provisioner otherwise. Each case loads the modules afresh under its environment. Pinecone
 * is asked of workflowDependencies() (workflow-deps.ts): only the functions that provision load its SDK.
 */
import type { ScheduledPlanChangeDependencies } from '../../../functions/plan-change/scheduled-plan-change';

const saved = { ...process.env };

/** The dependencies under `env`: planChangeDependencies(), or workflowDependencies() for the functions that provision. */
function dependenciesWith(env: Record<string, string | undefined>, of: 'routes' | 'workflow' = 'routes'): ScheduledPlanChangeDependencies {
  process.env = { ...saved, TABLE_NAME: 'lifecycle' };
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  let deps: ScheduledPlanChangeDependencies | undefined;
  jest.isolateModules(() => {
    deps =
      of === 'workflow'
        ? (jest.requireActual('../../../functions/workflows/workflow-deps') as { workflowDependencies: () => ScheduledPlanChangeDependencies }).workflowDependencies()
        : (jest.requireActual('../../../functions/plan-change/plan-change-deps') as { planChangeDependencies: () => ScheduledPlanChangeDependencies }).planChangeDependencies();
  });
  return deps as ScheduledPlanChangeDependencies;
}

const LOCAL = { SCHEDULER_GROUP_NAME: undefined, STRIPE_SECRET_ARN: undefined, STRIPE_SECRET_KEY: undefined, PINECONE_API_KEY: undefined, PINECONE_SECRET_ARN: undefined };

afterEach(() => {
  process.env = { ...saved };
});

describe('Function: planChangeDependencies', () => {
  it('should use the local scheduler, ledger and provisioner when nothing is configured', () => {
    const deps = dependenciesWith(LOCAL);
    expect([deps.scheduler.name, deps.billing.name, deps.provisioner.name]).toEqual(['local', 'local-ledger', 'local']);
  });

  it('should build the same dependencies once per container', () => {
    let first: unknown;
    let second: unknown;
    process.env = { ...saved, TABLE_NAME: 'lifecycle' };
    jest.isolateModules(() => {
      const { planChangeDependencies } = jest.requireActual('../../../functions/plan-change/plan-change-deps') as { planChangeDependencies: () => unknown };
      first = planChangeDependencies();
      second = planChangeDependencies();
    });
    expect(second).toBe(first);
  });

  it('should use EventBridge Scheduler, Stripe from Secrets Manager and Pinecone from a secret on AWS', () => {
    const deps = dependenciesWith({
      ...LOCAL,
      SCHEDULER_GROUP_NAME: 'TenantLifecycle-schedules',
      SCHEDULER_ROLE_ARN: 'arn:aws:iam::123456789012:role/scheduler',
      SCHEDULER_DEAD_LETTER_ARN: 'arn:aws:sqs:us-east-1:123456789012:dlq',
      STRIPE_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:stripe-AbCdEf',
      PINECONE_SECRET_ARN: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:pinecone-AbCdEf',
      PINECONE_REGION: 'us-east-1',
    }, 'workflow');
    expect([deps.scheduler.name, deps.billing.name, deps.provisioner.name]).toEqual(['eventbridge-scheduler', 'stripe', 'pinecone']);
  });

  it('should use Stripe and Pinecone with keys given directly (local use against real accounts)', () => {
    const deps = dependenciesWith({ ...LOCAL, STRIPE_SECRET_KEY: 'sk_test_123', PINECONE_API_KEY: 'pc-key', PINECONE_REGION: 'us-east-1', PINECONE_CONTROLLER_URL: 'http://127.0.0.1:5081' }, 'workflow');
    expect([deps.billing.name, deps.provisioner.name]).toEqual(['stripe', 'pinecone']);
  });

  it('should refuse Pinecone in a function that does not load its SDK (the API routes, the period-end target), saying which functions provision', () => {
    const deps = dependenciesWith({ ...LOCAL, PINECONE_API_KEY: 'pc-key', PINECONE_REGION: 'us-east-1' });
    expect(() => deps.provisioner).toThrow(/only the functions using functions\/workflows\/workflow-deps\.ts provision/);
  });
});
