import { afterEach, expect, test } from 'bun:test';
import { fileURLToPath } from 'node:url';
import type { Subprocess } from 'bun';
import { createTestDatabaseUrl } from './support/database';

/** The real entry point as `bun run start` runs it: start-up log, serving, graceful SIGTERM. */

const entryPoint = fileURLToPath(new URL('../src/index.ts', import.meta.url));

interface ServerProcess {
  child: Subprocess<'ignore', 'pipe', 'pipe'>;
  port: number;
  /** Every JSON log line written to stdout so far. */
  logLines: Record<string, unknown>[];
  /** Resolves once a log line with this `msg` has been written. */
  logged(msg: string): Promise<void>;
  stderr: Promise<string>;
}

const running = new Set<Subprocess>();
afterEach(() => {
  // Only our own children, by handle, should a test fail half-way.
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

async function spawnServer(env: Record<string, string>): Promise<ServerProcess> {
  const child = Bun.spawn([process.execPath, entryPoint], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: await createTestDatabaseUrl(), ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  running.add(child);
  const logLines: Record<string, unknown>[] = [];
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  const logWaiters = new Set<() => void>();
  const logged = (msg: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" log line; got ${JSON.stringify(logLines)}`)), 15_000);
      const check = () => {
        if (!logLines.some((line) => line.msg === msg)) return;
        clearTimeout(timer);
        logWaiters.delete(check);
        resolve();
      };
      logWaiters.add(check);
      check();
    });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within 30 s; got ${JSON.stringify(logLines)}`)), 30_000);
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffered += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, newline);
          buffered = buffered.slice(newline + 1);
          const entry = JSON.parse(line) as Record<string, unknown>;
          logLines.push(entry);
          for (const wake of logWaiters) wake();
          if (typeof entry.msg === 'string' && entry.msg.startsWith('Seatwatch listening on ')) {
            clearTimeout(timer);
            resolve(Number(entry.port));
          }
        }
      }
      clearTimeout(timer);
      reject(new Error(`stdout ended before the listening line; stderr: ${await stderr}`));
    })();
  });
  return { child, port, logLines, logged, stderr };
}

test('logs the URL with the chosen port, serves, and exits 0 on SIGTERM', async () => {
  const server = await spawnServer({ SEED_DEMO: 'true', JWT_SECRET: 'a-test-secret-that-is-long-enough-123' });
  const listening = server.logLines.find((line) => String(line.msg).startsWith('Seatwatch listening on '))!;
  expect(server.port).toBeGreaterThan(0);
  expect(listening.msg).toBe(`Seatwatch listening on http://127.0.0.1:${server.port}`);

  const health = await fetch(`http://127.0.0.1:${server.port}/health`);
  expect(health.status).toBe(200);
  expect(await health.json()).toEqual({ status: 'ok' });

  const login = await fetch(`http://127.0.0.1:${server.port}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'test@example.com', password: 'password' }),
  });
  expect(login.status).toBe(200);
  const { token } = (await login.json()) as { token: string };

  server.child.kill('SIGTERM');
  expect(await server.child.exited).toBe(0);
  expect(await server.stderr).toBe('');
  // Tokens never appear in logs.
  expect(JSON.stringify(server.logLines)).not.toContain(token);
  expect(server.logLines.some((line) => line.msg === 'stopped')).toBe(true);
  // It really stopped listening.
  await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow();
}, 60_000);

test('SIGTERM lets an in-flight request finish before exiting 0', async () => {
  const server = await spawnServer({ SEED_DEMO: 'true' });
  const body = JSON.stringify({ email: 'test@example.com', password: 'password' });
  const half = body.length >> 1;

  // A raw connection, so the request can be held open half-sent across the signal.
  let received = '';
  let closed = false;
  let onData: () => void = () => {};
  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port: server.port,
    socket: {
      data(_socket, chunk) {
        received += chunk.toString();
        onData();
      },
      close() {
        closed = true;
        onData();
      },
    },
  });
  const responseContaining = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${text}" in ${JSON.stringify(received)}`)), 15_000);
      onData = () => {
        if (received.includes(text)) {
          clearTimeout(timer);
          resolve();
        } else if (closed) {
          clearTimeout(timer);
          reject(new Error(`connection closed without "${text}"; got ${JSON.stringify(received)}`));
        }
      };
      onData();
    });

  // `Expect: 100-continue` makes the server say when it has taken the request in: from then on
  // the request is in flight, waiting for its body.
  socket.write(
    `POST /api/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\n\r\n${body.slice(0, half)}`,
  );
  socket.flush();
  await responseContaining('100 Continue');
  received = '';

  server.child.kill('SIGTERM');
  await server.logged('shutting down');
  // Shutdown is under way: no new connections, yet the half-sent request is still being served.
  await expect(fetch(`http://127.0.0.1:${server.port}/health`)).rejects.toThrow();
  socket.write(body.slice(half));
  socket.flush();
  await responseContaining('"token"');
  expect(received).toStartWith('HTTP/1.1 200');
  socket.end();
  expect(await server.child.exited).toBe(0);
  expect(await server.stderr).toBe('');
}, 60_000);

test('an unreachable database stops start-up with exit 1 and one line', async () => {
  const child = Bun.spawn([process.execPath, entryPoint], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://postgres@127.0.0.1:1/nothing' },
    stdout: 'pipe',
    stderr: 'pipe',
    timeout: 30_000,
  });
  running.add(child);
  const [exitCode, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
  expect(exitCode).toBe(1);
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toStartWith('Failed to start: ');
  expect(stderr).not.toMatch(/\bat .*:\d+/);
}, 40_000);
