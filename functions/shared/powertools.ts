/** The shared logger and metrics (Powertools); service name and namespace come from POWERTOOLS_* variables. */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({ serviceName: 'tenant-lifecycle' });
export const metrics = new Metrics({ serviceName: 'tenant-lifecycle', namespace: 'TenantLifecycle' });
export { MetricUnit } from '@aws-lambda-powertools/metrics';
