import { afterEach, expect, test } from 'bun:test';
import { fileURLToPath } from 'node:url';
import type { Subprocess } from 'bun';
import postgres from 'postgres';
import { createTestDatabaseUrl, sayNeedsPostgres, usingPostgres } from '../support/database';
import { failedStart, killServerProcesses, spawnServer } from '../support/server-process';
import { connect, waitFor, type TestSocket } from '../support/ws';

/** WORKERS=n as `bun run start` runs it: a supervisor and n real server processes on one port. */

const entryPoint = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const JWT_SECRET = 'scale-out-test-secret-of-at-least-32-characters';

const running = new Set<Subprocess>();
afterEach(() => {
  // Only our own supervisor, by handle, should a test fail half-way; its workers follow SIGTERM.
  for (const child of running) if (child.exitCode === null) child.kill('SIGTERM');
  running.clear();
  killServerProcesses();
});

function baseEnv(): Record<string, string> {
  return { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', HOST: '127.0.0.1', JWT_SECRET };
}

if (!usingPostgres()) {
  sayNeedsPostgres('SPEC §4, WORKERS=2 server processes on one PostgreSQL,');
  test('PGlite run: WORKERS=2 stops at start-up with a one-line configuration error (scale-out tests need DATABASE_URL=postgres://…)', async () => {
    const child = Bun.spawn([process.execPath, entryPoint], {
      env: { ...baseEnv(), PORT: '0', WORKERS: '2', DATABASE_URL: 'memory://' },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    running.add(child);
    expect(await child.exited).toBe(1);
    const stderr = await new Response(child.stderr).text();
    expect(stderr).toBe('Configuration error: WORKERS above 1 needs DATABASE_URL on PostgreSQL (PGlite is a single process)\n');
    expect(await new Response(child.stdout).text()).not.toContain('listening');
  });
} else {
  interface WorkerGroup {
    supervisor: Subprocess<'ignore', 'pipe', 'pipe'>;
    databaseUrl: string;
    /** Every JSON log line of the supervisor and its workers so far. */
    logLines: Record<string, any>[];
    /** The workers' "listening" log lines, worker 1 first. */
    workers: Record<string, any>[];
    port: number;
    stderr: Promise<string>;
  }

  async function startWorkerGroup(): Promise<WorkerGroup> {
    const databaseUrl = await createTestDatabaseUrl();
    const supervisor = Bun.spawn([process.execPath, entryPoint], {
      // PORT=0: the supervisor picks one free port for both workers.
      env: { ...baseEnv(), PORT: '0', WORKERS: '2', DATABASE_URL: databaseUrl, SEED_DEMO: 'true', LOG_LEVEL: 'info' },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    running.add(supervisor);
    const stderr = new Response(supervisor.stderr).text();
    const logLines: Record<string, any>[] = [];
    void (async () => {
      let buffered = '';
      const decoder = new TextDecoder();
      for await (const chunk of supervisor.stdout) {
        buffered += decoder.decode(chunk, { stream: true });
        const lines = buffered.split('\n');
        buffered = lines.pop()!;
        for (const line of lines) if (line.trim()) logLines.push(JSON.parse(line));
      }
    })();

    const listening = () => logLines.filter((line) => String(line.msg).startsWith('Seatwatch listening on '));
    await waitFor(() => listening().length === 2 || supervisor.exitCode !== null, 30_000, 'two workers listening');
    expect(supervisor.exitCode).toBeNull();
    const workers = listening().sort((x, y) => x.worker - y.worker);
    expect(workers.map((line) => line.worker)).toEqual([1, 2]);
    const port = workers[0]!.port;
    expect(workers[1]!.port).toBe(port);
    expect(port).toBeGreaterThan(0);
    return { supervisor, databaseUrl, logLines, workers, port, stderr };
  }

  const isRunning = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  test('WORKERS=2: both processes serve one port, share seat changes, and SIGTERM drains them all (exit 0, sockets closed 1001)', async () => {
    const { supervisor, databaseUrl, logLines, port, stderr } = await startWorkerGroup();
    const baseUrl = `http://127.0.0.1:${port}`;

    // Two workers started on an empty database: migrated once each under a lock, seeded once.
    expect(logLines.filter((line) => line.msg === 'demo data loaded')).toHaveLength(1);
    const inspector = postgres(databaseUrl, { max: 1, onnotice: () => {} });
    try {
      const [users] = await inspector`select count(*)::int as count from users`;
      expect(users!.count).toBe(2);
    } finally {
      await inspector.end();
    }

    // Every response names its worker; a fresh connection per request lets the kernel pick anew.
    const fresh = (path: string, init: RequestInit = {}) =>
      fetch(`${baseUrl}${path}`, { ...init, keepalive: false, headers: { connection: 'close', ...init.headers } });
    const servedBy = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const response = await fresh('/health');
      expect(response.status).toBe(200);
      servedBy.add(response.headers.get('x-seatwatch-worker')!);
    }
    expect([...servedBy].sort()).toEqual(['1', '2']);

    const login = await fresh('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'test@example.com', password: 'password' }),
    });
    const { token } = await login.json();

    const watchers: TestSocket[] = [];
    for (let i = 0; i < 16; i++) watchers.push(connect(`ws://127.0.0.1:${port}/ws/events/1?token=${token}`));
    for (const watcher of watchers) expect(await watcher.nextOfType('subscribed', 10_000)).toMatchObject({ eventId: 1, availableSeats: 50, version: 1 });

    // Which worker holds which sockets: each worker's own connection gauge, read through /metrics.
    const connectionsByWorker = new Map<string, number>();
    for (let i = 0; i < 100 && connectionsByWorker.size < 2; i++) {
      const response = await fresh('/metrics');
      const gauge = /^seatwatch_ws_connections (\d+)/m.exec(await response.text());
      connectionsByWorker.set(response.headers.get('x-seatwatch-worker')!, Number(gauge![1]));
    }
    expect(connectionsByWorker.size).toBe(2);
    expect([...connectionsByWorker.values()].reduce((sum, count) => sum + count, 0)).toBe(16);
    // 16 sockets spread by the kernel: all on one worker would happen about once in 30,000 runs.
    expect(Math.min(...connectionsByWorker.values())).toBeGreaterThan(0);

    // A booking served by one worker reaches the watchers of both.
    const booked = await fresh('/api/bookings', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ eventId: 1 }),
    });
    expect(booked.status).toBe(201);
    for (const watcher of watchers) {
      expect(await watcher.nextOfType('booking_created')).toEqual({ type: 'booking_created', eventId: 1, availableSeats: 49, heldSeats: 0, capacity: 50, version: 2 });
    }

    supervisor.kill('SIGTERM');
    expect(await supervisor.exited).toBe(0);
    for (const watcher of watchers) expect((await watcher.closed).code).toBe(1001);
    expect(logLines.filter((line) => line.msg === 'stopped')).toHaveLength(2);
    expect(await stderr).toBe('');
  }, 60_000);

  test('a worker whose supervisor is killed outright stops by itself, closing its sockets 1001', async () => {
    const { supervisor, workers, port } = await startWorkerGroup();
    const workerPids: number[] = workers.map((line) => line.pid);
    try {
      const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'test@example.com', password: 'password' }),
      });
      const watcher = connect(`ws://127.0.0.1:${port}/ws/events/1?token=${(await login.json()).token}`);
      await watcher.nextOfType('subscribed');

      supervisor.kill('SIGKILL');
      await supervisor.exited;
      expect((await watcher.closed).code).toBe(1001);
      await waitFor(() => !workerPids.some(isRunning), 10_000, 'orphaned workers to exit');
    } finally {
      // Should the check have failed, our own leftover workers, by pid.
      for (const pid of workerPids) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    }
  }, 60_000);

  test('the workers share their port only with one another: a plain server or a second group on it exits 1 with "port N is in use"', async () => {
    const { supervisor, databaseUrl, port, stderr } = await startWorkerGroup();
    const intruders = {
      plain: spawnServer({ ...baseEnv(), PORT: String(port), DATABASE_URL: databaseUrl }),
      group: spawnServer({ ...baseEnv(), PORT: String(port), DATABASE_URL: databaseUrl, WORKERS: '2' }),
    };
    for (const [name, intruder] of Object.entries(intruders)) {
      const { exitCode, stderr: said } = await failedStart(intruder);
      expect({ name, exitCode, said }).toEqual({ name, exitCode: 1, said: `Failed to start: port ${port} is in use\n` });
    }
    // Every connection still reaches the group's own workers.
    for (let i = 0; i < 20; i++) {
      const response = await fetch(`http://127.0.0.1:${port}/health`, { keepalive: false, headers: { connection: 'close' } });
      expect(['1', '2']).toContain(response.headers.get('x-seatwatch-worker')!);
    }
    supervisor.kill('SIGTERM');
    expect(await supervisor.exited).toBe(0);
    expect(await stderr).toBe('');
  }, 60_000);

  test('WORKERS=2 whose workers cannot start (database unreachable): the supervisor stops with exit 1 instead of looping', async () => {
    const supervisor = Bun.spawn([process.execPath, entryPoint], {
      env: { ...baseEnv(), PORT: '0', WORKERS: '2', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/unreachable', LOG_LEVEL: 'info' },
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    running.add(supervisor);
    expect(await supervisor.exited).toBe(1);
    expect(await new Response(supervisor.stderr).text()).toContain('Failed to start:');
    expect(await new Response(supervisor.stdout).text()).toContain('worker failed during start-up; stopping all workers');
  }, 60_000);
}
