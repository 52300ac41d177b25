import { stopWhenSupervisorGone, superviseWorkers, workerNumberFrom } from './cluster';
import { ConfigError, loadConfig, type Config } from './config';
import { databaseErrorCode } from './db/client';
import { isDatabaseUnreachable } from './db/unreachable';
import { createLogger, redactPassword } from './lib/logger';
import { claimPort } from './lib/port';
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

/** PostgreSQL's SQLSTATE for a database that does not exist. */
const INVALID_CATALOG_NAME = '3D000';

function startFailureReason(error: unknown): string {
  const [message = ''] = (error instanceof Error ? error.message : String(error)).split('\n');
  const url = config.databaseUrl;
  if (!url?.startsWith('postgres')) return message;
  const code = databaseErrorCode(error);
  if (isDatabaseUnreachable(error)) return `cannot reach the database at ${redactPassword(url)} (${code})`;
  if (code === INVALID_CATALOG_NAME) return `${message}: create it first (createdb ${decodeURIComponent(new URL(url).pathname.slice(1))})`;
  return message;
}

/** One line on stderr saying why, never a stack trace or a password, then exit 1. */
function failStart(error: unknown): never {
  process.stderr.write(`Failed to start: ${startFailureReason(error)}\n`);
  process.exit(1);
}

const config = readConfig();
const logger = createLogger(config.logLevel);
const workerNumber = workerNumberFrom(process.argv);
// WORKERS>1: this process only supervises; the workers are copies of it started with --worker.
if (config.workers > 1 && workerNumber === null) {
  let supervised: Promise<number>;
  try {
    supervised = superviseWorkers(config, logger, import.meta.path);
  } catch (error) {
    failStart(error);
  }
  process.exit(await supervised);
}
if (config.jwtSecretIsDefault) logger.warn('JWT_SECRET is not set: using the development default. Set it in production.');
// A taken port is found before the database opens, which can take seconds (first start on PGlite).
if (workerNumber === null && config.port !== 0) {
  try {
    claimPort(config.host, config.port);
  } catch (error) {
    failStart(error);
  }
}

let server: Awaited<ReturnType<typeof startServer>>;
try {
  server = await startServer(config, { logger, workerId: workerNumber ?? undefined });
} catch (error) {
  failStart(error);
}

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

// Last: whoever reads this line may signal at once, and the handlers above must be in place.
logger.announce(`Seatwatch listening on ${server.url}`, {
  port: server.port,
  database: server.database.kind,
  // Since the process started (performance's time origin), module loading included.
  startupMs: Math.round(performance.now()),
  worker: workerNumber ?? undefined,
  pid: workerNumber === null ? undefined : process.pid,
});
