import { stopWhenSupervisorGone, superviseWorkers, workerNumberFrom } from './cluster';
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
const workerNumber = workerNumberFrom(process.argv);
// WORKERS>1: this process only supervises; the workers are copies of it started with --worker.
if (config.workers > 1 && workerNumber === null) process.exit(await superviseWorkers(config, logger, import.meta.path));
if (config.jwtSecretIsDefault) logger.warn('JWT_SECRET is not set: using the development default. Set it in production.');

const startedAt = performance.now();
let server: Awaited<ReturnType<typeof startServer>>;
try {
  server = await startServer(config, { logger, workerId: workerNumber ?? undefined });
} catch (error) {
  const reason = error instanceof Error ? error.message : String(error);
  process.stderr.write(`Failed to start: ${reason.split('\n')[0]}\n`);
  process.exit(1);
}
logger.info(`Seatwatch listening on ${server.url}`, {
  port: server.port,
  database: server.database.kind,
  startupMs: Math.round(performance.now() - startedAt),
  worker: workerNumber ?? undefined,
  pid: workerNumber === null ? undefined : process.pid,
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
if (workerNumber !== null) stopWhenSupervisorGone(() => void shutdown('supervisor gone'));
