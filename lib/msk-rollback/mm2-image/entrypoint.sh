#!/bin/sh
# Fetches the rendered MM2 config from S3 (task role credentials), checks it is the one RenderConfig
# stored, and starts MirrorMaker 2 in dedicated mode with the Prometheus JMX exporter agent.
# The root file system is read-only: everything written goes to HOME (/opt/mm2) or /tmp, both volumes.
set -eu
: "${MM2_CONFIG_S3_URI:?MM2_CONFIG_S3_URI is not set: the workflow passes it as a RunTask override}"
config="${HOME:-/opt/mm2}/mm2.properties"
touch "$config" 2>/dev/null || {
  echo "cannot write $config: the task definition must mount a writable volume at ${HOME:-/opt/mm2}" >&2
  exit 1
}
aws s3 cp --only-show-errors "$MM2_CONFIG_S3_URI" "$config"
if [ -n "${MM2_CONFIG_SHA256:-}" ]; then
  echo "$MM2_CONFIG_SHA256  $config" | sha256sum -c - >/dev/null || {
    echo "mm2 config at $MM2_CONFIG_S3_URI does not match the rendered sha256 $MM2_CONFIG_SHA256" >&2
    exit 1
  }
fi
mkdir -p "$LOG_DIR"
export KAFKA_OPTS="${KAFKA_OPTS:-} -javaagent:/opt/jmx/jmx_prometheus_javaagent.jar=${JMX_EXPORTER_PORT}:/opt/jmx/mm2.yml"
echo "starting MirrorMaker 2 with $MM2_CONFIG_S3_URI"
exec "$KAFKA_HOME/bin/connect-mirror-maker.sh" "$config"
