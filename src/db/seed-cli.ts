/** `bun run db:seed`: load demo data into an empty database (a no-op otherwise). */
import { ConfigError, loadConfig } from '../config';
import { openDatabase } from './client';
import { seedDemoData } from './seed';

try {
  const config = loadConfig();
  const database = await openDatabase(config.databaseUrl);
  const loaded = await seedDemoData(database.db);
  await database.close();
  console.log(loaded ? 'Demo data loaded: test@example.com / password, alice@example.com / password.' : 'Database not empty: demo data left as it is.');
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration error: ${error.message}` : `Seeding failed: ${(error as Error).message}`);
  process.exit(1);
}
