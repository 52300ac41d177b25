/**
 * The child side of the runner ↔ child line protocol. A bench child (server, watcher, baseline)
 * reads one JSON command per stdin line and answers on stdout with one JSON line carrying the
 * same id; it may also emit unsolicited `{event: …}` lines. Everything else a child wants to say
 * goes to stderr, so stdout stays machine-readable.
 */

export interface CommandLine {
  id: number;
  cmd: string;
  args?: unknown;
}

export type CommandHandler = (args: any) => unknown;

export function emitLine(message: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(message) + '\n');
}

export function emitEvent(event: string, fields: Record<string, unknown> = {}): void {
  emitLine({ event, ...fields });
}

/** Answers commands until stdin closes (the runner went away), then calls onEnd. */
export async function serveCommands(handlers: Record<string, CommandHandler>, onEnd: () => void | Promise<void>): Promise<void> {
  const decoder = new TextDecoder();
  let buffered = '';
  for await (const chunk of Bun.stdin.stream()) {
    buffered += decoder.decode(chunk, { stream: true });
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line) void dispatch(JSON.parse(line) as CommandLine, handlers);
    }
  }
  await onEnd();
}

async function dispatch(command: CommandLine, handlers: Record<string, CommandHandler>): Promise<void> {
  const handler = handlers[command.cmd];
  try {
    if (!handler) throw new Error(`unknown command ${command.cmd}`);
    const result = await handler(command.args);
    emitLine({ id: command.id, ok: true, result: result ?? null });
  } catch (error) {
    emitLine({ id: command.id, ok: false, error: error instanceof Error ? error.message : String(error) });
  }
}

/**
 * Resident set size in MB, after a full collection when asked (so garbage is not counted).
 * `memoryUsage.rss()` only reads the RSS; the full `memoryUsage()` also walks the JS heap,
 * which showed up as 12% of a busy server's CPU profile when sampled every 50 ms.
 */
export function residentMB(collectFirst = false): number {
  if (collectFirst) Bun.gc(true);
  return process.memoryUsage.rss() / (1024 * 1024);
}

/**
 * The peak RSS of a server child, sampled every 50 ms, and the `rss` / `reset-peak` commands
 * that read it (`rss` with `gc: true` collects this thread's heap first).
 */
export function trackPeakRss(): { commands: Record<'rss' | 'reset-peak', CommandHandler>; stop(): void } {
  let peakRssMB = residentMB();
  const sampler = setInterval(() => {
    peakRssMB = Math.max(peakRssMB, residentMB());
  }, 50);
  return {
    commands: {
      rss: (args: { gc?: boolean } = {}) => {
        const rssMB = residentMB(args.gc);
        peakRssMB = Math.max(peakRssMB, rssMB);
        return { rssMB, peakRssMB };
      },
      'reset-peak': () => {
        peakRssMB = residentMB();
        return { peakRssMB };
      },
    },
    stop: () => clearInterval(sampler),
  };
}
