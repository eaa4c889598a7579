/** The shared logger and metrics (Powertools); service name and namespace come from configuration. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { config } from './config';

export const logger = new Logger({ serviceName: config.serviceName });
export const metrics = new Metrics({ serviceName: config.serviceName, namespace: config.metricsNamespace });
export { MetricUnit } from '@aws-lambda-powertools/metrics';
