/** `bun run bench [scenario…] [--json] [--n N] [--m M] [--seats S] [--bookers B] [--concurrency C] [--coalesce MS] [--holds H]` */

export const SCENARIOS = ['fanout', 'booking', 'selloff', 'connections', 'slow-consumer', 'holds'] as const;
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
}

const NUMBER_FLAGS = { '--n': 'n', '--m': 'm', '--seats': 'seats', '--bookers': 'bookers', '--concurrency': 'concurrency', '--coalesce': 'coalesceMs', '--holds': 'holds' } as const;

export const USAGE = `usage: bun run bench [${SCENARIOS.join('|')}|all]… [--json] [--n N] [--m M] [--seats S] [--bookers B] [--concurrency C] [--coalesce MS] [--holds H]`;

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
