import { z } from 'zod';

/** The only reader of process.env: everything else receives a typed Config. */

const DEV_JWT_SECRET = 'seatwatch-dev-only-secret-change-me-in-production';

const durationPattern = /^(\d+)(s|m|h|d)?$/;
const secondsPerUnit = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** "3600" → 3600, "15m" → 900, "7d" → 604800; null when malformed. */
export function parseDurationSeconds(text: string): number | null {
  const match = durationPattern.exec(text.trim());
  if (!match) return null;
  const amount = Number(match[1]);
  const unit = (match[2] ?? 's') as keyof typeof secondsPerUnit;
  const seconds = amount * secondsPerUnit[unit];
  return seconds > 0 && Number.isSafeInteger(seconds) ? seconds : null;
}

const booleanText = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

const integerText = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: 'must be a whole number' })
    .transform(Number)
    .pipe(z.number().int().min(min, { message: `must be at least ${min}` }).max(max, { message: `must be at most ${max}` }));

const envSchema = z.object({
  NODE_ENV: z.string().default('development'),
  PORT: integerText(0, 65535).default(3000),
  HOST: z.string().min(1, { message: 'must not be empty' }).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .refine((url) => url === 'memory://' || /^postgres(ql)?:\/\/.+/.test(url), {
      message: 'must be memory:// or a postgres:// URL (unset for embedded PGlite under ./data/pglite)',
    })
    .optional(),
  JWT_SECRET: z.string().min(1, { message: 'must not be empty' }).optional(),
  JWT_EXPIRES_IN: z
    .string()
    .default('24h')
    .transform((text, ctx) => {
      const seconds = parseDurationSeconds(text);
      if (seconds === null) {
        ctx.addIssue({ code: 'custom', message: 'must be seconds (3600) or a duration like 15m, 24h, 7d' });
        return z.NEVER;
      }
      return seconds;
    }),
  SEED_DEMO: booleanText.default(false),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent'], { message: 'must be debug, info, warn, error or silent' }).default('info'),
  FANOUT_COALESCE_MS: integerText(0, 60_000).default(50),
  WORKERS: integerText(1, 64).default(1),
  HOLD_TTL_SECONDS: integerText(1, 86_400).default(600),
  HOLD_MAX_EXTENSIONS: integerText(0, 100).default(2),
  HOLD_WARNING_SECONDS: integerText(0, 86_400).default(60),
});

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface Config {
  nodeEnv: string;
  port: number;
  host: string;
  /** undefined → embedded PGlite on disk; 'memory://' → in-memory PGlite; postgres:// → PostgreSQL. */
  databaseUrl: string | undefined;
  jwtSecret: string;
  /** true when JWT_SECRET was not set and the development default is in use */
  jwtSecretIsDefault: boolean;
  jwtExpiresInSeconds: number;
  seedDemo: boolean;
  logLevel: LogLevel;
  fanoutCoalesceMs: number;
  workers: number;
  /** How long a hold keeps its seats, and again after each extension. */
  holdTtlSeconds: number;
  holdMaxExtensions: number;
  /** `hold_expiring` goes out this long before a hold expires. */
  holdWarningSeconds: number;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    readonly problem: string,
  ) {
    super(`${variable} ${problem}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Empty strings count as unset, as they do in most shells' `VAR= cmd`. */
function withoutEmpty(env: Env): Env {
  return Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
}

export function loadConfig(env: Env = process.env): Config {
  const parsed = envSchema.safeParse(withoutEmpty(env));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const variable = String(issue.path[0] ?? 'environment');
    const value = env[variable];
    const problem = variable === 'JWT_SECRET' || value === undefined ? issue.message : `${issue.message} (got "${value}")`;
    throw new ConfigError(variable, problem);
  }
  const values = parsed.data;
  const production = values.NODE_ENV === 'production';
  if (production && (values.JWT_SECRET === undefined || values.JWT_SECRET.length < 32)) {
    throw new ConfigError('JWT_SECRET', 'must be set to at least 32 characters when NODE_ENV=production');
  }
  if (values.WORKERS > 1 && !values.DATABASE_URL?.startsWith('postgres')) {
    throw new ConfigError('WORKERS', 'above 1 needs DATABASE_URL on PostgreSQL (PGlite is a single process)');
  }
  return {
    nodeEnv: values.NODE_ENV,
    port: values.PORT,
    host: values.HOST,
    databaseUrl: values.DATABASE_URL,
    jwtSecret: values.JWT_SECRET ?? DEV_JWT_SECRET,
    jwtSecretIsDefault: values.JWT_SECRET === undefined,
    jwtExpiresInSeconds: values.JWT_EXPIRES_IN,
    seedDemo: values.SEED_DEMO,
    logLevel: values.LOG_LEVEL,
    fanoutCoalesceMs: values.FANOUT_COALESCE_MS,
    workers: values.WORKERS,
    holdTtlSeconds: values.HOLD_TTL_SECONDS,
    holdMaxExtensions: values.HOLD_MAX_EXTENSIONS,
    holdWarningSeconds: values.HOLD_WARNING_SECONDS,
  };
}
