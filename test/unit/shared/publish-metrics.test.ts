/**
 * publishMetrics: one CloudWatch EMF document per dimension set, on stdout, and nothing on stderr (Powertools
 * 2.35 warns on stderr when two dimension sets of one document share a key, which in a Lambda is a log line
 * per metric).
 */
process.env.POWERTOOLS_METRICS_DISABLED = 'false';

import { MetricUnit, publishMetrics } from '../../../functions/shared/powertools';

function capture(run: () => void): { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((chunk) => stdout.push(String(chunk)) > 0);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((chunk) => stderr.push(String(chunk)) > 0);
  try {
    run();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

describe('Function: publishMetrics', () => {
  it('should write one EMF document per dimension set, each with every value, and no warning', () => {
    // Act
    const { stdout, stderr } = capture(() =>
      publishMetrics([{ event: 'suspend' }, { event: 'suspend', from: 'active', to: 'suspended' }], [{ name: 'Transitions', unit: MetricUnit.Count, value: 1 }]),
    );

    // Assess
    expect(stderr).toEqual([]);
    const documents = stdout.flatMap((chunk) => chunk.split('\n')).filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown> & { _aws: { CloudWatchMetrics: unknown[] } });
    expect(documents).toHaveLength(2);
    expect(documents.map((doc) => doc._aws.CloudWatchMetrics)).toEqual([
      [{ Namespace: 'TenantLifecycle', Dimensions: [['service', 'event']], Metrics: [{ Name: 'Transitions', Unit: 'Count' }] }],
      [{ Namespace: 'TenantLifecycle', Dimensions: [['service', 'event', 'from', 'to']], Metrics: [{ Name: 'Transitions', Unit: 'Count' }] }],
    ]);
    expect(documents[1]).toMatchObject({ service: 'tenant-lifecycle', event: 'suspend', from: 'active', to: 'suspended', Transitions: 1 });
  });

  it('should never throw, also for a value CloudWatch would refuse', () => {
    expect(() => capture(() => publishMetrics([{ workflow: 'x' }], [{ name: 'Bad', unit: MetricUnit.Count, value: Number.NaN }]))).not.toThrow();
  });
});
