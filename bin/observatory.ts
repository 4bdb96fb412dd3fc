#!/usr/bin/env -S npx tsx
/**
 * The CDK app. The only place that reads context: `-c config=FILE` (default config/example.yaml).
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app.ts';
import { ConfigError, loadConfig } from '../lib/config/loader.ts';

const app = new App();
const file = String(app.node.tryGetContext('config') ?? 'config/example.yaml');
try {
  buildApp(app, loadConfig(file), { configFile: file });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  }
  throw err;
}
