/**
 * `bun run bench [scenario…] [--json] [options]` — SPEC §7. Each scenario starts its own
 * server process(es) on free ports, drives them from separate load processes, stops everything
 * and reports. With --json, stdout carries exactly one JSON object per scenario (one per line)
 * and the tables and progress go to stderr.
 */
import { parseOptions, USAGE, type ScenarioName } from './options';
import type { Scenario } from './scenario';
import { runBooking } from './scenarios/booking';
import { runConnections } from './scenarios/connections';
import { runFanout } from './scenarios/fanout';
import { runHolds } from './scenarios/holds';
import { runOnsale } from './scenarios/onsale';
import { runSelloff } from './scenarios/selloff';
import { runSlowConsumer } from './scenarios/slow-consumer';

const scenarios: Record<ScenarioName, Scenario> = {
  fanout: runFanout,
  booking: runBooking,
  selloff: runSelloff,
  connections: runConnections,
  'slow-consumer': runSlowConsumer,
  holds: runHolds,
  onsale: runOnsale,
};

/** However a scenario goes wrong, the run ends; nothing waits forever. */
const SCENARIO_TIME_LIMIT_MS = 15 * 60_000;

let options;
try {
  options = parseOptions(process.argv.slice(2));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  console.error(USAGE);
  process.exit(2);
}

const human = (text: string) => (options.json ? process.stderr : process.stdout).write(text);
const progress = (message: string) => process.stderr.write(`· ${message}\n`);

let failures = 0;
for (const name of options.scenarios) {
  const startedAt = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const report = await Promise.race([
      scenarios[name](options, progress),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${name} exceeded ${SCENARIO_TIME_LIMIT_MS / 60_000} minutes`)), SCENARIO_TIME_LIMIT_MS);
      }),
    ]);
    human(report.table);
    human(`(${name} took ${((Date.now() - startedAt) / 1000).toFixed(1)} s)\n`);
    if (options.json) process.stdout.write(JSON.stringify(report.json) + '\n');
  } catch (error) {
    failures += 1;
    process.stderr.write(`${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  } finally {
    clearTimeout(timer);
  }
}
process.exit(failures === 0 ? 0 : 1);
