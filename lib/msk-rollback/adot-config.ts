/**
 * Configuration of the ADOT collector sidecar: scrape the MM2 JMX exporter on localhost and remote-write
 * to AMP with SigV4, every series labelled with the execution (values from RunTask overrides).
 */

/** An environment reference the collector expands at start (`${env:NAME}`). */
function envRef(name: string): string {
  return `\${env:${name}}`;
}

/** Port of the JMX exporter agent in the MM2 container. */
export const JMX_EXPORTER_PORT = 9404;

/**
 * Renders the collector config (passed in `AOT_CONFIG_CONTENT`).
 * @param remoteWriteUrl AMP remote-write URL (may be a deploy-time token)
 * @param region the AMP workspace's region, for SigV4
 */
export function adotCollectorConfig(remoteWriteUrl: string, region: string): string {
  return [
    'extensions:',
    '  sigv4auth:',
    `    region: ${region}`,
    '    service: aps',
    '  health_check: {}',
    'receivers:',
    '  prometheus:',
    '    config:',
    '      global:',
    '        scrape_interval: 15s',
    '        scrape_timeout: 10s',
    '      scrape_configs:',
    '        - job_name: mm2',
    '          static_configs:',
    `            - targets: ['localhost:${JMX_EXPORTER_PORT}']`,
    'processors:',
    '  batch:',
    '    timeout: 10s',
    'exporters:',
    '  prometheusremotewrite:',
    `    endpoint: ${remoteWriteUrl}`,
    '    auth:',
    '      authenticator: sigv4auth',
    '    resource_to_telemetry_conversion:',
    '      enabled: false',
    '    external_labels:',
    `      execution: ${envRef('MM2_EXECUTION')}`,
    `      rollback: ${envRef('MM2_ROLLBACK')}`,
    `      source_cluster: ${envRef('MM2_SOURCE_CLUSTER')}`,
    `      target_cluster: ${envRef('MM2_TARGET_CLUSTER')}`,
    `      direction: ${envRef('MM2_DIRECTION')}`,
    'service:',
    '  extensions: [sigv4auth, health_check]',
    '  pipelines:',
    '    metrics:',
    '      receivers: [prometheus]',
    '      processors: [batch]',
    '      exporters: [prometheusremotewrite]',
    '',
  ].join('\n');
}
