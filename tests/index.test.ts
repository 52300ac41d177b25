import { afterEach, expect, test } from 'bun:test';
import { createTestDatabaseUrl, usingPostgres } from './support/database';
import { failedStart, killServerProcesses, spawnServer as spawnServerProcess, startServerProcess } from './support/server-process';

/** The real entry point as `bun run start` runs it: start-up log, serving, graceful SIGTERM. */

afterEach(killServerProcesses);

async function spawnServer(env: Record<string, string>) {
  return startServerProcess({ DATABASE_URL: await createTestDatabaseUrl(), ...env });
}

test('logs the URL with the chosen port, serves, and exits 0 on SIGTERM', async () => {
  const server = await spawnServer({ SEED_DEMO: 'true', JWT_SECRET: 'a-test-secret-that-is-long-enough-123' });
  const listening = server.logLines.find((line) => String(line.msg).startsWith('Seatwatch listening on '))!;
  expect(server.port).toBeGreaterThan(0);
  expect(listening.msg).toBe(`Seatwatch listening on http://127.0.0.1:${server.port}`);
  // A secret of its own: no warning about the development default.
  expect(server.logLines.filter((line) => line.level === 'warn')).toEqual([]);

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
}, 120_000);

test('without JWT_SECRET a warning says the development default is in use; SIGINT (Ctrl-C) closes sockets with 1001 and exits 0', async () => {
  const server = await spawnServer({ SEED_DEMO: 'true' });
  const warning = server.logLines.find((line) => line.level === 'warn' && String(line.msg).includes('JWT_SECRET'));
  expect(warning?.msg).toBe('JWT_SECRET is not set: using the development default. Set it in production.');

  const login = await fetch(`http://127.0.0.1:${server.port}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'test@example.com', password: 'password' }),
  });
  const { token } = (await login.json()) as { token: string };
  const socket = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${token}`);
  const closed = new Promise<number>((resolve) => socket.addEventListener('close', (event) => resolve(event.code)));
  await new Promise((resolve) => socket.addEventListener('message', resolve, { once: true }));

  server.child.kill('SIGINT');
  expect(await closed).toBe(1001);
  expect(await server.child.exited).toBe(0);
  expect(server.logLines.find((line) => line.msg === 'shutting down')?.signal).toBe('SIGINT');
  expect(server.logLines.some((line) => line.msg === 'stopped')).toBe(true);
}, 120_000);

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
}, 120_000);

test('a second server on a port already in use exits 1 with one line saying so, and the first keeps all its connections', async () => {
  const first = await spawnServer({ DATABASE_URL: 'memory://' });
  const second = spawnServerProcess({ DATABASE_URL: 'memory://', PORT: String(first.port) });
  const { exitCode, stderr } = await failedStart(second);
  expect({ exitCode, stderr }).toEqual({ exitCode: 1, stderr: `Failed to start: port ${first.port} is in use\n` });
  for (let i = 0; i < 10; i++) expect((await fetch(`http://127.0.0.1:${first.port}/health`, { headers: { connection: 'close' } })).status).toBe(200);
}, 120_000);

test('the listening line is written at LOG_LEVEL=warn and error, which hide the info lines', async () => {
  for (const level of ['warn', 'error']) {
    const server = await spawnServer({ DATABASE_URL: 'memory://', LOG_LEVEL: level, JWT_SECRET: 'a-test-secret-that-is-long-enough-123' });
    expect(server.logLines.map((line) => [line.level, line.msg])).toEqual([['info', `Seatwatch listening on http://127.0.0.1:${server.port}`]]);
    server.child.kill('SIGTERM');
    expect(await server.child.exited).toBe(0);
    expect(server.logLines).toHaveLength(1);
  }
}, 120_000);

test('start-up logs each step as it begins: opening the database, migrating, loading demo data, listening', async () => {
  const server = await spawnServer({ SEED_DEMO: 'true', JWT_SECRET: 'a-test-secret-that-is-long-enough-123' });
  const steps = server.logLines.map((line) => String(line.msg).replace(/ on http.*/, ''));
  const postgresSteps = ['connecting to the database', 'applying migrations', 'loading demo data', 'demo data loaded', 'Seatwatch listening'];
  const pgliteSteps = ['creating the database', 'applying migrations', 'loading demo data', 'demo data loaded', 'Seatwatch listening'];
  expect(steps).toEqual(usingPostgres() ? postgresSteps : pgliteSteps);
  expect(server.logLines.at(-1)!.startupMs).toBeGreaterThan(0);
}, 120_000);

test('an unreachable database stops start-up with exit 1 and one line naming it, without its password', async () => {
  const server = spawnServerProcess({ LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://seatwatch:s3cret-word@127.0.0.1:1/nothing' });
  const { exitCode, stderr } = await failedStart(server);
  expect(exitCode).toBe(1);
  expect(stderr).toBe('Failed to start: cannot reach the database at postgres://seatwatch:***@127.0.0.1:1/nothing (ECONNREFUSED)\n');
}, 40_000);

if (usingPostgres()) {
  test('a database that does not exist on the server: exit 1, one line saying to create it', async () => {
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = '/seatwatch_never_created';
    const server = spawnServerProcess({ LOG_LEVEL: 'silent', DATABASE_URL: url.toString() });
    const { exitCode, stderr } = await failedStart(server);
    expect({ exitCode, stderr }).toEqual({
      exitCode: 1,
      stderr: 'Failed to start: database "seatwatch_never_created" does not exist: create it first (createdb seatwatch_never_created)\n',
    });
  }, 40_000);
}
