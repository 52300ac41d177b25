import { readFileSync } from 'node:fs';

/**
 * How busy the whole machine's cores were over an interval, from Linux's /proc/stat: during a
 * spike the server, the watchers, the database and the bookers share them, so a lag that only
 * more CPU would shorten shows up here as cores with no idle time left.
 */
export interface MachineCpuSample {
  total: number;
  idle: number;
  system: number;
  steal: number;
}

export interface MachineCpuShare {
  /** Of all the cores' time: not idle (steal included — the hypervisor took it). */
  busyPct: number;
  /** In the kernel: system, irq and softirq — socket writes and reads on loopback land here. */
  systemPct: number;
  stealPct: number;
}

/** null where /proc/stat cannot be read (not Linux). */
export function sampleMachineCpu(): MachineCpuSample | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1, 9).map(Number) as number[];
    return {
      total: user! + nice! + system! + idle! + iowait! + irq! + softirq! + steal!,
      idle: idle! + iowait!,
      system: system! + irq! + softirq!,
      steal: steal!,
    };
  } catch {
    return null;
  }
}

export function machineCpuShare(before: MachineCpuSample | null, after: MachineCpuSample | null): MachineCpuShare {
  if (!before || !after || after.total <= before.total) return { busyPct: NaN, systemPct: NaN, stealPct: NaN };
  const total = after.total - before.total;
  const pct = (pick: (sample: MachineCpuSample) => number) => (100 * (pick(after) - pick(before))) / total;
  return { busyPct: 100 - pct((sample) => sample.idle), systemPct: pct((sample) => sample.system), stealPct: pct((sample) => sample.steal) };
}
