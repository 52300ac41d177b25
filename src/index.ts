import { ConfigError, loadConfig, type Config } from './config';
import { createLogger } from './lib/logger';
import { startServer } from './server';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

const config = readConfig();
const logger = createLogger(config.logLevel);
if (config.jwtSecretIsDefault) logger.warn('JWT_SECRET is not set: using the development default. Set it in production.');

const startedAt = performance.now();
let server: Awaited<ReturnType<typeof startServer>>;
try {
  server = await startServer(config, { logger });
} catch (error) {
  const reason = error instanceof Error ? error.message : String(error);
  process.stderr.write(`Failed to start: ${reason.split('\n')[0]}\n`);
  process.exit(1);
}
logger.info(`Seatwatch listening on ${server.url}`, {
  port: server.port,
  database: server.database.kind,
  startupMs: Math.round(performance.now() - startedAt),
});

let shuttingDown = false;
async function shutdown(signal: string): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  logger.info('shutting down', { signal });
  await server.stop();
  logger.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
