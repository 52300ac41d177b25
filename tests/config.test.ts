import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig, parseDurationSeconds } from '../src/config';

const entryPoint = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('loadConfig', () => {
  test('defaults match SPEC §1 when nothing is set', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.host).toBe('0.0.0.0');
    expect(config.databaseUrl).toBeUndefined();
    expect(config.jwtSecretIsDefault).toBe(true);
    expect(config.jwtSecret.length).toBeGreaterThanOrEqual(32);
    expect(config.jwtExpiresInSeconds).toBe(24 * 3600);
    expect(config.seedDemo).toBe(false);
    expect(config.logLevel).toBe('info');
    expect(config.fanoutCoalesceMs).toBe(50);
    expect(config.workers).toBe(1);
  });

  test('reads every variable it is given', () => {
    const config = loadConfig({
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/seatwatch',
      JWT_SECRET: 'x'.repeat(40),
      JWT_EXPIRES_IN: '15m',
      SEED_DEMO: 'true',
      LOG_LEVEL: 'warn',
      FANOUT_COALESCE_MS: '0',
      WORKERS: '4',
      NODE_ENV: 'production',
    });
    expect(config).toMatchObject({
      port: 0,
      host: '127.0.0.1',
      databaseUrl: 'postgres://postgres@127.0.0.1:5432/seatwatch',
      jwtSecret: 'x'.repeat(40),
      jwtSecretIsDefault: false,
      jwtExpiresInSeconds: 900,
      seedDemo: true,
      logLevel: 'warn',
      fanoutCoalesceMs: 0,
      workers: 4,
      nodeEnv: 'production',
    });
    expect(loadConfig({ DATABASE_URL: 'memory://' }).databaseUrl).toBe('memory://');
    expect(loadConfig({ DATABASE_URL: 'postgresql://u@h/db' }).databaseUrl).toBe('postgresql://u@h/db');
  });

  test('an empty variable counts as unset', () => {
    expect(loadConfig({ PORT: '', JWT_SECRET: '' }).port).toBe(3000);
    expect(loadConfig({ JWT_SECRET: '' }).jwtSecretIsDefault).toBe(true);
  });

  test('JWT_EXPIRES_IN takes seconds or a duration', () => {
    const cases: [string, number][] = [
      ['3600', 3600],
      ['3s', 3],
      ['15m', 900],
      ['24h', 86_400],
      ['7d', 604_800],
    ];
    for (const [text, seconds] of cases) {
      expect(parseDurationSeconds(text)).toBe(seconds);
      expect(loadConfig({ JWT_EXPIRES_IN: text }).jwtExpiresInSeconds).toBe(seconds);
    }
    for (const bad of ['forever', '0', '0s', '-5', '1.5h', '10w', 'h', '', '99999999999999999d']) {
      expect(parseDurationSeconds(bad)).toBeNull();
    }
  });

  const rejected: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['PORT', { PORT: '65536' }],
    ['PORT', { PORT: '-1' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['JWT_SECRET', { NODE_ENV: 'production', JWT_SECRET: 'short' }],
    ['JWT_SECRET', { NODE_ENV: 'production' }],
    ['JWT_EXPIRES_IN', { JWT_EXPIRES_IN: 'forever' }],
    ['SEED_DEMO', { SEED_DEMO: 'maybe' }],
    ['LOG_LEVEL', { LOG_LEVEL: 'loud' }],
    ['FANOUT_COALESCE_MS', { FANOUT_COALESCE_MS: 'fast' }],
    ['WORKERS', { WORKERS: '0' }],
    ['WORKERS', { WORKERS: '2' }],
    ['WORKERS', { WORKERS: '2', DATABASE_URL: 'memory://' }],
  ];
  for (const [variable, env] of rejected) {
    test(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      let thrown: unknown;
      try {
        loadConfig(env);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).variable).toBe(variable);
      expect((thrown as ConfigError).message.startsWith(variable)).toBe(true);
    });
  }

  test('never echoes a JWT_SECRET value back', () => {
    const secret = 'not-long-enough-secret';
    expect(() => loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret })).toThrow(ConfigError);
    try {
      loadConfig({ NODE_ENV: 'production', JWT_SECRET: secret });
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });

  test('a 32-character secret is enough in production', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: 's'.repeat(32) }).jwtSecretIsDefault).toBe(false);
  });
});

describe('bad configuration stops the process', () => {
  const cases: [string, Record<string, string>][] = [
    ['PORT', { PORT: 'abc' }],
    ['DATABASE_URL', { DATABASE_URL: 'mysql://x' }],
    ['JWT_SECRET', { NODE_ENV: 'production', JWT_SECRET: 'too-short' }],
    ['JWT_EXPIRES_IN', { JWT_EXPIRES_IN: 'forever' }],
    ['WORKERS', { WORKERS: '2', DATABASE_URL: 'memory://' }],
  ];

  for (const [variable, env] of cases) {
    test(`${Object.entries(env)
      .map(([key, value]) => `${key}=${value}`)
      .join(' ')}: exit 1 and one line naming ${variable}`, async () => {
      // A scratch working directory: were the config wrongly accepted, no ./data appears in the repo.
      const cwd = mkdtempSync(join(tmpdir(), 'seatwatch-config-'));
      try {
        const child = Bun.spawn([process.execPath, entryPoint], {
          cwd,
          env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? cwd, LOG_LEVEL: 'silent', ...env },
          stdout: 'pipe',
          stderr: 'pipe',
          timeout: 20_000,
        });
        const [exitCode, stdout, stderr] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(child.stderr).text()]);
        expect(exitCode).toBe(1);
        const lines = stderr.trimEnd().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(variable);
        expect(stderr).not.toMatch(/\bat .*:\d+|Error:|\.ts:\d+/);
        if (env.JWT_SECRET) expect(stderr).not.toContain(env.JWT_SECRET);
        expect(stdout).toBe('');
      } finally {
        rmSync(cwd, { recursive: true, force: true });
      }
    }, 30_000);
  }
});
