#!/usr/bin/env node
/**
 * `observatory`: the command-line side of Infra Observatory (subcommands in cli/commands.ts).
 *
 * Built ahead of time into `dist/cli/observatory.mjs` by `npm run build` (scripts/build-cli.ts), which
 * `npm ci` runs through the `prepare` script, so a run compiles no TypeScript and loads only the
 * invoked subcommand. `npx tsx bin/cli.ts` runs the same program from source.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
// A namespace import: a named import of a function an older Node lacks would fail before any check.
import * as nodeModule from 'node:module';
import { nodeVersionProblem, programFor } from '../cli/commands.ts';

// The built CLI records its sources (scripts/build-cli.ts): say so when one changed since the build.
function warnIfStale(): void {
  const manifest = new URL('./sources.json', import.meta.url);
  if (!existsSync(manifest)) return;
  const { builtAtMs, files } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    builtAtMs: number;
    files: string[];
  };
  const changed = files.find((f) => existsSync(f) && statSync(f).mtimeMs > builtAtMs);
  if (changed) console.error(`observatory: ${changed} changed since the CLI was built; run npm run build`);
}

async function main(): Promise<void> {
  const tooOld = nodeVersionProblem(process.versions.node);
  if (tooOld) {
    console.error(tooOld);
    process.exit(2);
  }
  // V8's on-disk code cache (Node 22): from the second run on, the invoked subcommand's modules (yaml,
  // zod, the probe engine) are not compiled again.
  nodeModule.enableCompileCache?.();
  warnIfStale();
  const args = process.argv.slice(2);
  const program = await programFor(args);
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    // A config problem is the user's to fix: its message lists them, no stack trace.
    console.error(
      (err as Error).name === 'ConfigError'
        ? (err as Error).message
        : `observatory: ${(err as Error).message}`,
    );
    process.exit(1);
  }
}

await main();
