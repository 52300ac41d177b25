import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { login, startTestServer, type TestServer } from '../support/server';
import { lineMatches, markedBlocks, outputLines } from './markdown';

/**
 * docs/websockets.md's runnable example (`<!-- readme-test: … -->`), run as written in bash
 * against a real server on a fresh database: what it prints must be what the reference shows.
 */

const reference = readFileSync(join(import.meta.dir, '../../docs/websockets.md'), 'utf8');
const blocks = markedBlocks(reference);

let server: TestServer;
let token: string;

beforeAll(async () => {
  server = await startTestServer({ seed: true });
  token = await login(server);
}, 60_000);
afterAll(() => server.stop());

describe('docs/websockets.md', () => {
  test('refreshing the token on an open socket: the greeting, then token_refreshed, as shown', async () => {
    const command = blocks.get('command:refresh-on-socket');
    const output = blocks.get('output:refresh-on-socket');
    expect(command && output).toBeTruthy();
    const child = Bun.spawn(['bash', '-c', command!.text.replaceAll('localhost:3000', `127.0.0.1:${server.port}`)], {
      // `bun` in the docs means the Bun running this test, wherever it is installed.
      env: { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ''}`, TOKEN: token },
      stdout: 'pipe',
      stderr: 'pipe',
      timeout: 15_000,
    });
    const [stdout, stderr, exitCode] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    // It closes the socket itself once answered, so the process ends.
    expect({ exitCode, stderr }).toEqual({ exitCode: 0, stderr: '' });
    const printed = outputLines(stdout);
    const documented = outputLines(output!.text);
    expect(printed).toHaveLength(documented.length);
    documented.forEach((line, i) => expect({ line: printed[i], matches: lineMatches(line, printed[i]!) }).toEqual({ line: printed[i], matches: true }));
  }, 30_000);
});
