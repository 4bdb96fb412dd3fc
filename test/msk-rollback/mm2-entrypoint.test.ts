import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ENTRYPOINT = join(import.meta.dirname, '../../lib/msk-rollback/mm2-image/entrypoint.sh');
const dir = mkdtempSync(join(tmpdir(), 'observatory-mm2-entrypoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(path: string, body: string) {
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
}

describe('MM2 image entrypoint', () => {
  it('writes the fetched config and the logs under HOME (a volume) and starts MM2 with that config', async () => {
    // Fakes of the AWS CLI and of Kafka's launcher: the script itself runs for real under /bin/sh.
    const bin = join(dir, 'bin');
    const kafka = join(dir, 'kafka');
    const home = join(dir, 'home');
    mkdirSync(bin);
    mkdirSync(join(kafka, 'bin'), { recursive: true });
    mkdirSync(home);
    script(join(bin, 'aws'), 'printf "tasks.max = 2\\n" > "$5"');
    script(join(kafka, 'bin/connect-mirror-maker.sh'), 'echo "config=$1"; echo "logs=$LOG_DIR"');
    const { stdout } = await promisify(execFile)('/bin/sh', [ENTRYPOINT], {
      env: {
        PATH: `${bin}:/usr/bin:/bin`,
        HOME: home,
        KAFKA_HOME: kafka,
        LOG_DIR: join(home, 'logs'),
        JMX_EXPORTER_PORT: '9404',
        MM2_CONFIG_S3_URI: 's3://configs/executions/run-1/mm2.properties',
      },
    });
    expect(stdout).toContain(`config=${join(home, 'mm2.properties')}\n`);
    expect(stdout).toContain(`logs=${join(home, 'logs')}\n`);
    expect(readFileSync(join(home, 'mm2.properties'), 'utf8')).toBe('tasks.max = 2\n');
  });
});
