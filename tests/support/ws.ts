import { createWaiter } from './waiter';

/** A real WebSocket client for tests: records every message and waits for specific ones. */
export interface TestSocket {
  socket: WebSocket;
  messages: any[];
  /** `performance.now()` at each message's arrival, index for index with `messages`. */
  receivedAt: number[];
  closed: Promise<{ code: number; reason: string }>;
  isClosed(): boolean;
  send(message: unknown): void;
  /** Resolves with the first message (from `fromIndex` on) matching the predicate. */
  next(predicate?: (message: any) => boolean, timeoutMs?: number): Promise<any>;
  /** The next message of this type not consumed before. */
  nextOfType(type: string, timeoutMs?: number): Promise<any>;
  close(): void;
}

export function connect(url: string, options: { headers?: Record<string, string> } = {}): TestSocket {
  const socket = options.headers ? new WebSocket(url, { headers: options.headers } as unknown as string[]) : new WebSocket(url);
  const messages: any[] = [];
  const receivedAt: number[] = [];
  const waiter = createWaiter();
  let closedFlag = false;
  let cursor = 0;
  socket.addEventListener('message', (event) => {
    const data = typeof event.data === 'string' ? event.data : String(event.data);
    receivedAt.push(performance.now());
    try {
      messages.push(JSON.parse(data));
    } catch {
      messages.push(data);
    }
    waiter.wake();
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    socket.addEventListener('close', (event) => {
      closedFlag = true;
      resolve({ code: event.code, reason: event.reason });
      waiter.wake();
    });
  });

  function next(predicate: (message: any) => boolean = () => true, timeoutMs = 5000): Promise<any> {
    return waiter.until(
      () => {
        for (let i = cursor; i < messages.length; i++) {
          if (predicate(messages[i])) {
            cursor = i + 1;
            return messages[i];
          }
        }
        if (closedFlag) throw new Error(`socket closed while waiting; got ${JSON.stringify(messages.slice(cursor))}`);
        return undefined;
      },
      timeoutMs,
      () => `timed out after ${timeoutMs} ms; got ${JSON.stringify(messages.slice(cursor))}`,
    );
  }

  return {
    socket,
    messages,
    receivedAt,
    closed,
    isClosed: () => closedFlag,
    send(message) {
      socket.send(typeof message === 'string' ? message : JSON.stringify(message));
    },
    next,
    nextOfType: (type, timeoutMs) => next((message) => message?.type === type, timeoutMs),
    close() {
      socket.close();
    },
  };
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000, label = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
    await Bun.sleep(10);
  }
}
