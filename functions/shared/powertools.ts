/** The shared logger and metric publishing (Powertools); service name and namespace come from configuration. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, type MetricUnit as MetricUnitValue } from '@aws-lambda-powertools/metrics';
import { config } from './config';

export const logger = new Logger({ serviceName: config.serviceName });
export { MetricUnit } from '@aws-lambda-powertools/metrics';

/** One value of one metric: name, unit (a Powertools MetricUnit) and value. */
export interface MetricValue {
  readonly name: string;
  readonly unit: (typeof MetricUnitValue)[keyof typeof MetricUnitValue];
  readonly value: number;
}

/**
 * Emit `values` now, as CloudWatch EMF documents on stdout (CloudWatch Logs turns them into metrics): one per
 * dimension set of `dimensionSets`, each also with Powertools' `service` dimension. One document per set, not
 * one with several sets: Powertools 2.35 warns on stderr whenever two sets of a document share a key, a log
 * line per metric. Published at once, not buffered for a `logMetrics` middleware, so it works the same from
 * every handler (API, Task, EventBridge, scheduled) and nothing is lost when a handler throws later.
 * Dimension values must be few (no tenant or operation ids): each combination is a CloudWatch metric of its
 * own. Nothing is written while metrics are disabled (POWERTOOLS_METRICS_DISABLED, or POWERTOOLS_DEV). Never
 * throws: a metric must not fail the change it describes (a refused value is logged instead).
 * See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export function publishMetrics(dimensionSets: ReadonlyArray<Readonly<Record<string, string>>>, values: readonly MetricValue[]): void {
  for (const dimensions of dimensionSets) {
    try {
      // A fresh instance per document: the shared buffer and dimensions are not mixed with a concurrent
      // caller's (the local stack runs many requests in one process).
      const document = new Metrics({ serviceName: config.serviceName, namespace: config.metricsNamespace });
      for (const [name, value] of Object.entries(dimensions)) document.addDimension(name, value);
      for (const { name, unit, value } of values) document.addMetric(name, unit, value);
      document.publishStoredMetrics();
    } catch (error) {
      logger.warn('Could not publish metrics', { dimensions, metrics: values.map(({ name }) => name), error });
    }
  }
}
