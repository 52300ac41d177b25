/** onsale's figures of a line's admissions, from each user's ticket and `admittedAt` (ms). */

/**
 * Pairs admitted out of their order in line: tickets a < b with a admitted after b. `times`
 * are the admission times in ticket order; counted by merge sort, O(n log n).
 */
export function countInversions(times: readonly number[]): number {
  let values = [...times];
  let scratch = new Array<number>(values.length);
  let inversions = 0;
  for (let width = 1; width < values.length; width *= 2) {
    for (let left = 0; left < values.length; left += 2 * width) {
      const middle = Math.min(left + width, values.length);
      const right = Math.min(left + 2 * width, values.length);
      let i = left;
      let j = middle;
      let k = left;
      while (i < middle && j < right) {
        if (values[i]! <= values[j]!) scratch[k++] = values[i++]!;
        else {
          inversions += middle - i;
          scratch[k++] = values[j++]!;
        }
      }
      while (i < middle) scratch[k++] = values[i++]!;
      while (j < right) scratch[k++] = values[j++]!;
    }
    [values, scratch] = [scratch, values];
  }
  return inversions;
}

/**
 * The largest gap, in users, between those admitted and `rate × elapsed` since the sale's
 * start, from the start to the last admission. The count only changes at admissions, so the
 * largest gaps are just before and just after one. On an exact pace it is 1: the first user is
 * admitted at the start itself.
 */
export function paceErrorMax(admittedAt: readonly number[], salesStartAtMs: number, ratePerMinute: number): number {
  const sorted = [...admittedAt].sort((a, b) => a - b);
  const perMs = ratePerMinute / 60_000;
  let largest = 0;
  for (const [index, at] of sorted.entries()) {
    const due = Math.max(0, (at - salesStartAtMs) * perMs);
    largest = Math.max(largest, Math.abs(index - due), Math.abs(index + 1 - due));
  }
  return largest;
}

/** The pace between the first admission and the last, per minute (NaN below two). */
export function admittedPerMinute(admittedAt: readonly number[]): number {
  if (admittedAt.length < 2) return NaN;
  const first = admittedAt.reduce((lowest, at) => Math.min(lowest, at), Infinity);
  const last = admittedAt.reduce((highest, at) => Math.max(highest, at), -Infinity);
  return last > first ? ((admittedAt.length - 1) * 60_000) / (last - first) : Infinity;
}
