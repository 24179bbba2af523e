import { HANDLER_ENV, METRICS_NAMESPACE } from '../../shared/contract';
import type { SessionArchive } from '../session-archive';

/** The environment of a function that writes to the archive: its bucket and key (names from shared/contract.ts). */
export function archiveEnvironment(archive: SessionArchive): Record<string, string> {
  return { [HANDLER_ENV.archiveBucket]: archive.bucket.bucketName, [HANDLER_ENV.archiveKeyArn]: archive.encryptionKey.keyArn };
}

/** The Powertools environment of a function that publishes the gateway's metrics: its service name and the namespace. */
export function metricsEnvironment(serviceName: string): Record<string, string> {
  return { [HANDLER_ENV.powertoolsServiceName]: serviceName, [HANDLER_ENV.powertoolsMetricsNamespace]: METRICS_NAMESPACE };
}
