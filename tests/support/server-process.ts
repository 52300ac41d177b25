import { fileURLToPath } from 'node:url';
import type { Subprocess } from 'bun';

/** The real entry point as `bun run start` runs it, in a process of its own. */

export const entryPoint = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

export interface ServerProcess {
  child: Subprocess<'ignore', 'pipe', 'pipe'>;
  /** Every JSON log line written to stdout so far. */
  logLines: Record<string, unknown>[];
  /** Resolves once a log line with this `msg` has been written. */
  logged(msg: string): Promise<void>;
  /** The port from the `Seatwatch listening on …` line; rejects when stdout ends first. */
  listening: Promise<number>;
  stderr: Promise<string>;
}

const running = new Set<Subprocess>();

/** For afterEach: kills this file's own children still running, by handle, should a test fail half-way. */
export function killServerProcesses(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  running.clear();
}

/**
 * Starts `bun src/index.ts` with PORT=0 and HOST=127.0.0.1 unless `env` says otherwise, and
 * nothing else from this process's environment. Without DATABASE_URL in `env` the server opens
 * ./data/pglite under `cwd`.
 */
export function spawnServer(env: Record<string, string>, options: { cwd?: string; listeningWithinMs?: number } = {}): ServerProcess {
  const child = Bun.spawn([process.execPath, entryPoint], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', PORT: '0', HOST: '127.0.0.1', ...env },
    cwd: options.cwd,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  running.add(child);
  const logLines: Record<string, unknown>[] = [];
  const stderr = new Response(child.stderr).text();
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
  const listeningWithinMs = options.listeningWithinMs ?? 60_000;
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line within ${listeningWithinMs} ms; got ${JSON.stringify(logLines)}`)), listeningWithinMs);
    void (async () => {
      const decoder = new TextDecoder();
      let buffered = '';
      for await (const chunk of child.stdout) {
        buffered += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = buffered.indexOf('\n')) >= 0) {
          const entry = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
          buffered = buffered.slice(newline + 1);
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
  // A test that expects a failed start never awaits it.
  listening.catch(() => {});
  return { child, logLines, logged, listening, stderr };
}

export type ListeningServerProcess = ServerProcess & { port: number };

/** spawnServer, resolved once it listens. */
export async function startServerProcess(env: Record<string, string>, options: { cwd?: string } = {}): Promise<ListeningServerProcess> {
  const server = spawnServer(env, options);
  return { ...server, port: await server.listening };
}

/**
 * Waits for a process expected to fail at start-up: its exit code and what it wrote. One that
 * starts listening instead is stopped, and reported with exitCode 'listening'.
 */
export async function failedStart(server: ServerProcess): Promise<{ exitCode: number | null | 'listening'; stderr: string; stdout: Record<string, unknown>[] }> {
  const outcome = await Promise.race([server.child.exited, server.listening.then(() => 'listening' as const, () => server.child.exited)]);
  if (outcome === 'listening') server.child.kill('SIGKILL');
  return { exitCode: outcome, stderr: await server.stderr, stdout: server.logLines };
}

/** A JSON request to a server process, as a client sends it; the answer's status and parsed body. */
export async function callProcess(server: ListeningServerProcess, method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`http://127.0.0.1:${server.port}${path}`, {
    method,
    headers: { ...(token && { authorization: `Bearer ${token}` }), ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** A new account on a server process (a unique email from `name`); its token. */
export async function registerOn(server: ListeningServerProcess, name: string): Promise<string> {
  const answer = await callProcess(server, 'POST', '/api/auth/register', undefined, { email: `${name}-${Date.now()}-${Math.random()}@example.com`, password: 'password123' });
  if (answer.status !== 201) throw new Error(`register ${name}: ${answer.status} ${JSON.stringify(answer.body)}`);
  return answer.body.token;
}
