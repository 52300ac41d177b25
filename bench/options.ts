/** `bun run bench [scenario…] [--json] [--n N] [--m M] [--seats S] [--bookers B] [--concurrency C] [--coalesce MS] [--holds H] [--users U] [--rate R] [--workers W]` */

export const SCENARIOS = ['fanout', 'booking', 'selloff', 'connections', 'slow-consumer', 'holds', 'onsale'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface BenchOptions {
  scenarios: ScenarioName[];
  json: boolean;
  n?: number;
  m?: number;
  seats?: number;
  bookers?: number;
  concurrency?: number;
  /** selloff: run only this coalescing window instead of 0 and the default 50 ms */
  coalesceMs?: number;
  /** holds: how many holds expire together */
  holds?: number;
  /** onsale: users in the line (else --n) */
  users?: number;
  /** onsale: the line's queueRatePerMinute */
  rate?: number;
  /** onsale: server processes on one PostgreSQL database (else WORKERS, else 1) */
  workers?: number;
}

const NUMBER_FLAGS = { '--n': 'n', '--m': 'm', '--seats': 'seats', '--bookers': 'bookers', '--concurrency': 'concurrency', '--coalesce': 'coalesceMs', '--holds': 'holds', '--users': 'users', '--rate': 'rate', '--workers': 'workers' } as const;

export const USAGE = `usage: bun run bench [${SCENARIOS.join('|')}|all]… [--json] [--n N] [--m M] [--seats S] [--bookers B] [--concurrency C] [--coalesce MS] [--holds H] [--users U] [--rate R] [--workers W]`;

export function parseOptions(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = { scenarios: [], json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inlineValue] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined];
    if (flag === '--json') options.json = true;
    else if (flag in NUMBER_FLAGS) {
      const text = inlineValue ?? argv[++i];
      const value = Number(text);
      if (text === undefined || !Number.isInteger(value) || value < 0) throw new Error(`${flag} needs a whole number (got ${text ?? 'nothing'})`);
      options[NUMBER_FLAGS[flag as keyof typeof NUMBER_FLAGS]] = value;
    } else if (flag === 'all') options.scenarios.push(...SCENARIOS);
    else if ((SCENARIOS as readonly string[]).includes(flag)) options.scenarios.push(flag as ScenarioName);
    else throw new Error(`unknown argument ${arg}`);
  }
  if (options.scenarios.length === 0) options.scenarios = [...SCENARIOS];
  options.scenarios = [...new Set(options.scenarios)];
  return options;
}
