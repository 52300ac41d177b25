/**
 * One clock for every bench process: wall-clock milliseconds with sub-millisecond precision.
 * `performance.now()` alone starts at zero in each process and `process.hrtime` is per process
 * in Bun, so times taken in the server, the watcher processes and the runner could not be
 * subtracted; timeOrigin + now() agrees across processes on one machine to within ~0.05 ms.
 */
export const benchClockMs = (): number => performance.timeOrigin + performance.now();
