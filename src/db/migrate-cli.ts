/** `bun run db:migrate`: apply committed migrations to the configured database, then exit. */
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from './client';

try {
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl); // opening applies pending migrations
  await database.close();
  console.log(`Migrations applied (${database.kind}).`);
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : `Migration failed: ${(error as Error).message}`);
  process.exit(1);
}
