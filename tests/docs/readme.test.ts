import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import postgres from 'postgres';
import { usingPostgres } from '../support/database';
import { startTestServer, type TestServer } from '../support/server';
import { lineMatches, markedBlocks, outputLines, type MarkedBlock } from './markdown';

/**
 * README's 5-minute test, run as written: the marked shell blocks go to bash (curl and `bun -e`
 * included) against a real server on a fresh database, and what they print must be what the
 * README shows. Only `localhost:3000` becomes this server's address; `bun run dev` itself is
 * the one step not taken (the test starts the same server on a free port instead).
 */

const readme = readFileSync(join(import.meta.dir, '../../README.md'), 'utf8');
const blocks = markedBlocks(readme);

function block(kind: MarkedBlock['kind'], name: string): MarkedBlock {
  const found = blocks.get(`${kind}:${name}`);
  if (!found) throw new Error(`README has no "${name}" ${kind} block (<!-- readme-test${kind === 'output' ? '-output' : ''}: ${name} -->)`);
  return found;
}

let server: TestServer;
let workDir: string;
/** Variables the README's commands `export`, carried to the next command as a shell would. */
const exported: Record<string, string> = {};

beforeAll(async () => {
  server = await startTestServer({ seed: true });
  workDir = mkdtempSync(join(tmpdir(), 'seatwatch-readme-'));
}, 60_000);
afterAll(async () => {
  watcher?.process.kill();
  holdWatcher?.process.kill();
  lineWatcher?.process.kill();
  await server.stop();
  rmSync(workDir, { recursive: true, force: true });
});

const forThisServer = (command: string) => command.replaceAll('localhost:3000', `127.0.0.1:${server.port}`);

function shellEnvironment(): Record<string, string | undefined> {
  // `bun` in the README means the Bun running this test, wherever it is installed.
  const path = `${dirname(process.execPath)}:${process.env.PATH ?? ''}`;
  return { ...process.env, PATH: path, ...exported };
}

/** Runs one README command in bash; returns what it printed and keeps what it exported. */
async function runCommand(name: string): Promise<string> {
  const envFile = join(workDir, `${name}.env`);
  const script = `${forThisServer(block('command', name).text)}\nenv -0 > '${envFile}'`;
  const child = Bun.spawn(['bash', '-c', script], { env: shellEnvironment(), cwd: workDir, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ name, exitCode, stderr }).toEqual({ name, exitCode: 0, stderr: '' });
  for (const entry of readFileSync(envFile, 'utf8').split('\0')) {
    const [, variable, value] = /^([A-Z_]*TOKEN)=([\s\S]*)$/.exec(entry) ?? [];
    if (variable) exported[variable] = value!;
  }
  return stdout;
}

function expectPrinted(outputName: string, printed: string[]): void {
  const documented = outputLines(block('output', outputName).text);
  expect(printed.length).toBeGreaterThanOrEqual(documented.length);
  documented.forEach((expectedLine, i) => {
    expect({ block: outputName, line: printed[i], matches: lineMatches(expectedLine, printed[i] ?? '') }).toEqual({
      block: outputName,
      line: printed[i],
      matches: true,
    });
  });
}

/** A long-running README command (the watcher), read line by line as it prints. */
interface RunningCommand {
  process: ReturnType<typeof Bun.spawn>;
  lines: string[];
  nextLines(count: number, timeoutMs?: number): Promise<string[]>;
  /** Lines printed and not yet taken by nextLines. */
  unread(): string[];
}

let watcher: RunningCommand | undefined;
let holdWatcher: RunningCommand | undefined;
let lineWatcher: RunningCommand | undefined;

function startCommand(name: string): RunningCommand {
  const child = Bun.spawn(['bash', '-c', forThisServer(block('command', name).text)], {
    env: shellEnvironment(),
    cwd: workDir,
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const lines: string[] = [];
  let cursor = 0;
  let ended = false;
  const wakers = new Set<() => void>();
  void (async () => {
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of child.stdout as ReadableStream<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts.filter((line) => line.trim() !== ''));
      for (const wake of wakers) wake();
    }
    ended = true;
    for (const wake of wakers) wake();
  })();
  return {
    process: child,
    lines,
    nextLines(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (lines.length >= cursor + count) {
            cleanup();
            const taken = lines.slice(cursor, cursor + count);
            cursor += count;
            resolve(taken);
          } else if (ended) {
            cleanup();
            reject(new Error(`${name} ended after printing ${JSON.stringify(lines)}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${name} printed ${JSON.stringify(lines.slice(cursor))} within ${timeoutMs} ms, expected ${count} more lines`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          wakers.delete(check);
        };
        wakers.add(check);
        check();
      });
    },
    unread: () => lines.slice(cursor),
  };
}

describe('README quick start', () => {
  test('shows the two commands', () => {
    expect(readme).toContain('```sh\nbun install && bun run dev\n```');
    expect(readme).toContain('```sh\nbun test\n```');
  });

  test('1. log in with curl: prints a token and the demo user', async () => {
    const printed = await runCommand('login');
    expectPrinted('login', [printed]);
  }, 20_000);

  test('1. keep the token: $TOKEN holds a JWT', async () => {
    const printed = await runCommand('keep-token');
    expectPrinted('keep-token', outputLines(printed));
    expect(exported.TOKEN).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  }, 20_000);

  test('2. watch event 1 with the Bun one-liner: greeting, then the seat snapshot', async () => {
    watcher = startCommand('watch');
    const printed = await watcher.nextLines(2, 10_000);
    expectPrinted('watch', printed);
    // wscat shows the same messages, each after "< ".
    const wscatLines = outputLines(block('output', 'watch-wscat').text);
    expect(wscatLines[0]).toBe('Connected (press CTRL+C to quit)');
    expectPrinted('watch', wscatLines.slice(1).map((line) => line.replace(/^< /, '')));
    wscatLines.slice(1).forEach((line, i) => expect(lineMatches(line.replace(/^< /, ''), printed[i]!)).toBe(true));
  }, 20_000);

  test('3. Alice books two seats with curl', async () => {
    const printed = await runCommand('book');
    expectPrinted('book', [printed]);
    expect(exported.ALICE_TOKEN).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  }, 20_000);

  test('4. the watcher prints the update', async () => {
    expectPrinted('update', await watcher!.nextLines(1));
  }, 20_000);

  test('4. cancelling prints the cancelled booking, and the watcher the new count', async () => {
    expectPrinted('cancel', [await runCommand('cancel')]);
    expectPrinted('cancel-update', await watcher!.nextLines(1));
  }, 20_000);

  test('troubleshooting: the health check', async () => {
    expectPrinted('health', [await runCommand('health')]);
  }, 20_000);

  test('the watcher printed nothing the README does not show', async () => {
    expect(watcher!.unread()).toEqual([]);
  });
});

describe('README: sell with holds', () => {
  test('the watcher started again: greeting, then the snapshot after the 5-minute test', async () => {
    watcher?.process.kill();
    holdWatcher = startCommand('watch-holds');
    expectPrinted('watch-holds', await holdWatcher.nextLines(2, 10_000));
  }, 20_000);

  test('Alice holds two seats: the hold, and the watcher sees them held', async () => {
    const printed = await runCommand('hold');
    expectPrinted('hold', [printed]);
    const { hold } = JSON.parse(printed);
    expect(Date.parse(hold.expiresAt) - Date.parse(hold.createdAt)).toBe(600_000);
    expectPrinted('held-update', await holdWatcher!.nextLines(1));
  }, 20_000);

  test('confirming books them: the booking, and the watcher sees held become booked', async () => {
    expectPrinted('confirm', [await runCommand('confirm')]);
    expectPrinted('confirm-update', await holdWatcher!.nextLines(1));
  }, 20_000);

  test('the watcher printed nothing the README does not show', async () => {
    await Bun.sleep(200);
    expect(holdWatcher!.unread()).toEqual([]);
    holdWatcher!.process.kill();
  });
});

describe('README: run an on-sale', () => {
  test('the organizer creates an event whose sale opens in 10 s, with a line of 12 a minute', async () => {
    const printed = await runCommand('onsale-event');
    expectPrinted('onsale-event', [printed]);
    const { event } = JSON.parse(printed);
    expect(Date.parse(event.salesStartAt) - Date.now()).toBeGreaterThan(5_000);
  }, 20_000);

  test('the watcher of the event: greeting, then the snapshot with where the line stands', async () => {
    lineWatcher = startCommand('watch-line');
    expectPrinted('watch-line', await lineWatcher.nextLines(2, 10_000));
  }, 20_000);

  test('Alice joins: no ticket before the lottery; booking before the sale is sales_not_started', async () => {
    expectPrinted('join-line', [await runCommand('join-line')]);
    expectPrinted('book-early', [await runCommand('book-early')]);
  }, 20_000);

  test('the watcher sees one waiting, then ticket 1 admitted when the sale opens', async () => {
    expectPrinted('line-moves', await lineWatcher!.nextLines(2, 20_000));
  }, 30_000);

  test('Alice is admitted and books', async () => {
    expectPrinted('my-place', (await runCommand('my-place')).split('\n').filter((line) => line !== ''));
    await Bun.sleep(1_500);
    // The booking is a seat change; the line no longer moves.
    expect(lineWatcher!.unread().map((line) => JSON.parse(line).type)).toEqual(['booking_created']);
    lineWatcher!.process.kill();
  }, 20_000);
});

describe('README on PostgreSQL', () => {
  test('the block creates the database, then starts the server on it', () => {
    const [createdb, start, ...rest] = block('command', 'postgres-start').text.split('\n');
    expect(createdb).toStartWith('createdb ');
    expect(start).toEndWith(' bun run start');
    expect(rest).toEqual([]);
  });

  if (usingPostgres()) {
    test('run as written, on this server under a fresh name: createdb, then the server starts on it with the demo data', async () => {
      const base = new URL(process.env.DATABASE_URL!);
      const name = `seatwatch_test_${process.pid}_readme_${Date.now()}`;
      const credentials = base.password ? `${base.username}:${base.password}` : base.username;
      const documented = block('command', 'postgres-start').text;
      const script = documented
        .replace('createdb -h 127.0.0.1 -U postgres seatwatch', `createdb -h ${base.hostname} -p ${base.port || '5432'} -U ${base.username} ${name}`)
        .replace('postgres://postgres@127.0.0.1:5432/seatwatch', `postgres://${credentials}@${base.host}/${name}`)
        // exec: the signal that stops the test's server reaches `bun run start`, which passes it on.
        .replace(/bun run start$/, 'exec bun run start');
      expect(script.split(name)).toHaveLength(3);

      const child = Bun.spawn(['bash', '-c', script], {
        env: { ...shellEnvironment(), PORT: '0', PGPASSWORD: decodeURIComponent(base.password) },
        cwd: join(import.meta.dir, '../..'),
        stdout: 'pipe',
        stderr: 'pipe',
      });
      const stderr = new Response(child.stderr).text();
      try {
        const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no listening line within 60 s')), 60_000);
          void (async () => {
            const decoder = new TextDecoder();
            let buffered = '';
            for await (const chunk of child.stdout) {
              buffered += decoder.decode(chunk, { stream: true });
              for (let newline; (newline = buffered.indexOf('\n')) >= 0; buffered = buffered.slice(newline + 1)) {
                const entry = JSON.parse(buffered.slice(0, newline)) as Record<string, unknown>;
                if (String(entry.msg).startsWith('Seatwatch listening on ')) {
                  clearTimeout(timer);
                  resolve(entry);
                }
              }
            }
            clearTimeout(timer);
            reject(new Error(`the server stopped before listening: ${await stderr}`));
          })();
        });
        const port = Number(listening.port);
        // The README's port is 3000; this one is free, whatever its number.
        expectPrinted('postgres-start', [JSON.stringify(listening).replaceAll(`:${port}`, ':3000')]);

        const login = await fetch(`http://127.0.0.1:${port}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email: 'test@example.com', password: 'password' }),
        });
        expect(login.status).toBe(200);
        child.kill('SIGTERM');
        expect(await child.exited).toBe(0);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        const admin = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
        await admin.unsafe(`drop database if exists "${name}" with (force)`).finally(() => admin.end());
      }
    }, 120_000);
  }
});

describe('README troubleshooting: a watcher that refreshes its token', () => {
  // 61 s tokens: the warning comes 60 s ahead of exp, so within a second, and each refresh gives a
  // later expiry. The README's day-long wait, shortened to a second.
  let shortLived: TestServer;
  beforeAll(async () => {
    shortLived = await startTestServer({ seed: true, config: { jwtExpiresInSeconds: 61 } });
  }, 60_000);
  afterAll(() => shortLived.stop());

  test('run as written: the greeting, the snapshot, the warning, then token_refreshed with a later expiry; still open', async () => {
    const login = await shortLived.request('POST', '/api/auth/login', { body: { email: 'test@example.com', password: 'password' } });
    const script = block('command', 'watch-refreshing').text.replaceAll('localhost:3000', `127.0.0.1:${shortLived.port}`);
    const child = Bun.spawn(['bash', '-c', script], { env: { ...shellEnvironment(), TOKEN: login.body.token }, stdout: 'pipe', stderr: 'inherit' });
    try {
      const lines: string[] = [];
      const reading = (async () => {
        const decoder = new TextDecoder();
        let pending = '';
        for await (const chunk of child.stdout) {
          pending += decoder.decode(chunk, { stream: true });
          const parts = pending.split('\n');
          pending = parts.pop()!;
          lines.push(...parts.filter((line) => line.trim() !== ''));
          if (lines.length >= 4) return;
        }
      })();
      await Promise.race([reading, Bun.sleep(10_000)]);
      expectPrinted('watch-refreshing', lines);
      const [warning, refreshed] = [JSON.parse(lines[2]!), JSON.parse(lines[3]!)];
      expect(Date.parse(refreshed.expiresAt)).toBeGreaterThan(Date.parse(warning.expiresAt));
      expect(child.exitCode).toBeNull();
    } finally {
      child.kill();
      await child.exited;
    }
  }, 30_000);
});
