import type { BenchOptions } from './options';

/** What every scenario returns: the SPEC §7 JSON object, and a table for people. */
export interface ScenarioReport {
  json: Record<string, unknown>;
  table: string;
}

export type Progress = (message: string) => void;

export type Scenario = (options: BenchOptions, progress: Progress) => Promise<ScenarioReport>;

/** Children and databases a scenario started, stopped in reverse order however it ends. */
export class Teardown {
  private readonly steps: (() => Promise<unknown>)[] = [];

  add<T>(resource: T, stop: (resource: T) => Promise<unknown>): T {
    this.steps.push(() => stop(resource));
    return resource;
  }

  async run(): Promise<void> {
    for (const step of this.steps.reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`teardown: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
    this.steps.length = 0;
  }
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(25);
  }
}
