/**
 * drizzle-kit configuration: `npx drizzle-kit generate` turns lambdas/shared/db/schema.ts into SQL
 * migrations under drizzle/, which are committed and applied by `migrate()` (locally, in tests and by
 * the deploy-time migration custom resource).
 */
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './lambdas/shared/db/schema.ts',
  out: './drizzle',
  strict: true,
  verbose: true,
});
