import type { Subprocess } from 'bun';
import type { Config } from './config';
import type { Logger } from './lib/logger';
import { claimPort } from './lib/port';

/**
 * WORKERS=n: the process started by `bun run start` becomes a supervisor that runs n server
 * processes of the same entry point on one port. The kernel spreads incoming connections over
 * them (SO_REUSEPORT, which only these workers set); seat changes reach all of them through
 * PostgreSQL LISTEN/NOTIFY. The supervisor itself opens no database and serves nothing.
 */

/** Marks a process started by the supervisor: `bun src/index.ts --worker 2`. */
export const WORKER_FLAG = '--worker';

/** The worker number given by the supervisor, or null when this process was started directly. */
export function workerNumberFrom(argv: readonly string[]): number | null {
  const index = argv.indexOf(WORKER_FLAG);
  if (index === -1) return null;
  const value = Number(argv[index + 1]);
  return Number.isSafeInteger(value) && value > 0 ? value : null;
}

/** A worker that dies sooner than this after starting is failing to start: restarting would only loop. */
const STARTUP_GRACE_MS = 10_000;
const RESTART_DELAY_MS = 1_000;
/** After SIGTERM, workers get this long to drain before they are killed. */
const DRAIN_TIMEOUT_MS = 30_000;

interface Worker {
  number: number;
  process: Subprocess;
  startedAt: number;
}

/**
 * Starts `config.workers` copies of `entryPoint` and keeps them running: a worker that crashes
 * after start-up is restarted; one that fails during start-up stops the whole group. SIGTERM
 * and SIGINT are passed to every worker, which closes its sockets with 1001 and drains its
 * requests. Resolves with the exit code for the supervisor: 0 when every worker exited 0.
 * Throws PortInUseError, starting nothing, when anything holds the port (another group included).
 */
export function superviseWorkers(config: Config, logger: Logger, entryPoint: string): Promise<number> {
  // The workers share the port with one another only: an exclusive bind first finds anything else
  // on it. With PORT=0 it also picks the one port every worker binds.
  const port = claimPort(config.host, config.port);
  const workers = new Map<number, Worker>();
  let stopping = false;
  let failed = false;
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolve) => (finish = resolve));

  function start(number: number): void {
    const child = Bun.spawn([process.execPath, entryPoint, WORKER_FLAG, String(number)], {
      // The workers read their configuration as this process did; only the port is pinned.
      env: { ...process.env, PORT: String(port) },
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const worker: Worker = { number, process: child, startedAt: Date.now() };
    workers.set(number, worker);
    void child.exited.then(() => exited(worker));
  }

  function exited(worker: Worker): void {
    if (workers.get(worker.number) !== worker) return;
    workers.delete(worker.number);
    const { exitCode, signalCode, pid } = worker.process;
    const clean = exitCode === 0;
    if (!clean) failed = true;
    if (stopping) {
      if (!clean) logger.error('worker exited uncleanly while stopping', { worker: worker.number, pid, exitCode, signal: signalCode });
      if (workers.size === 0) finish(failed ? 1 : 0);
      return;
    }
    const ranMs = Date.now() - worker.startedAt;
    if (ranMs < STARTUP_GRACE_MS) {
      logger.error('worker failed during start-up; stopping all workers', { worker: worker.number, pid, exitCode, signal: signalCode, ranMs });
      stop('SIGTERM');
      return;
    }
    logger.error('worker exited unexpectedly; restarting it', { worker: worker.number, pid, exitCode, signal: signalCode, restartInMs: RESTART_DELAY_MS });
    setTimeout(() => {
      if (!stopping) start(worker.number);
    }, RESTART_DELAY_MS);
  }

  function stop(signal: 'SIGTERM' | 'SIGINT'): void {
    if (stopping) return;
    stopping = true;
    logger.info('stopping workers', { signal, workers: workers.size });
    for (const worker of workers.values()) worker.process.kill(signal);
    // Every worker may be down already (waiting for a restart): nothing to wait for.
    if (workers.size === 0) finish(failed ? 1 : 0);
    setTimeout(() => {
      for (const worker of workers.values()) {
        logger.error('worker did not drain in time; killing it', { worker: worker.number, pid: worker.process.pid });
        worker.process.kill('SIGKILL');
      }
    }, DRAIN_TIMEOUT_MS).unref();
  }

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  logger.info('starting workers', { workers: config.workers, port, pid: process.pid });
  for (let number = 1; number <= config.workers; number++) start(number);
  return finished;
}

/**
 * A worker whose supervisor died without passing on a signal (SIGKILL, OOM) would keep its
 * share of the port forever, serving old code beside a restarted group; it stops instead.
 */
export function stopWhenSupervisorGone(stop: () => void): void {
  const supervisorPid = process.ppid;
  const check = setInterval(() => {
    if (process.ppid === supervisorPid) return;
    clearInterval(check);
    stop();
  }, 1000);
  check.unref();
}
