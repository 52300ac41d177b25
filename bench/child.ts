import type { Subprocess } from 'bun';

/**
 * The runner's side of a bench child process: spawned through bash so its open-file limit can
 * be raised to the hard limit first (10,000 sockets need more than the usual 1,024), then
 * driven with one JSON command per line (see child-protocol.ts).
 */

export interface BenchChild {
  readonly name: string;
  readonly pid: number;
  request<T = unknown>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  /** Unsolicited `{event}` lines from the child. */
  onEvent(handler: (message: Record<string, any>) => void): void;
  /** Resolves with the first line `{ready: …}` the child prints. */
  ready: Promise<Record<string, any>>;
  stop(timeoutMs?: number): Promise<void>;
}

const running = new Set<Subprocess>();

/** Children never outlive the runner, whatever way it ends. */
function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

const RAISE_FILE_LIMIT = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 20000 2>/dev/null; exec "$0" "$@"';

export function startChild(name: string, script: string, env: Record<string, string> = {}): BenchChild {
  const scriptPath = new URL(script, import.meta.url).pathname;
  // BENCH_PROFILE_DIR=dir writes a CPU profile (markdown) of every child to dir when it exits.
  const profile = process.env.BENCH_PROFILE_DIR ? ['--cpu-prof-md', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`, `--cpu-prof-name=${name}-${Date.now()}.md`] : [];
  const process_ = Bun.spawn(['bash', '-c', RAISE_FILE_LIMIT, process.execPath, ...profile, scriptPath], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'inherit',
    env: { ...process.env, ...env },
  });
  running.add(process_);

  let nextId = 1;
  const pending = new Map<number, { resolve(value: any): void; reject(error: Error): void; timer: ReturnType<typeof setTimeout> }>();
  const eventHandlers: ((message: Record<string, any>) => void)[] = [];
  let resolveReady!: (value: Record<string, any>) => void;
  let rejectReady!: (error: Error) => void;
  const ready = new Promise<Record<string, any>>((resolve, reject) => {
    resolveReady = resolve;
    rejectReady = reject;
  });
  ready.catch(() => {});

  const exited = process_.exited.then((code) => {
    running.delete(process_);
    const error = new Error(`${name} exited with code ${code}`);
    rejectReady(error);
    for (const entry of pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(error);
    }
    pending.clear();
  });

  void (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of process_.stdout) {
      buffered += decoder.decode(chunk, { stream: true });
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        let message: Record<string, any>;
        try {
          message = JSON.parse(line);
        } catch {
          process.stderr.write(`[${name}] ${line}\n`);
          continue;
        }
        if ('ready' in message) resolveReady(message);
        else if (typeof message.id === 'number' && pending.has(message.id)) {
          const entry = pending.get(message.id)!;
          pending.delete(message.id);
          clearTimeout(entry.timer);
          if (message.ok) entry.resolve(message.result);
          else entry.reject(new Error(`${name}: ${message.error}`));
        } else if ('event' in message) for (const handler of eventHandlers) handler(message);
      }
    }
  })();

  return {
    name,
    pid: process_.pid,
    ready,
    request(cmd, args, timeoutMs = 60_000) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        process_.stdin.write(JSON.stringify({ id, cmd, args }) + '\n');
        process_.stdin.flush();
      });
    },
    onEvent(handler) {
      eventHandlers.push(handler);
    },
    async stop(timeoutMs = 10_000) {
      if (!running.has(process_)) return;
      // Closing stdin asks the child to shut down cleanly; SIGKILL if it does not.
      process_.stdin.end();
      const timer = setTimeout(() => process_.kill('SIGKILL'), timeoutMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
