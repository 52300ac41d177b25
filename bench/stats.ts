/** Percentiles for the tables: exact over small samples, bucketed for millions of lag samples. */

/** Nearest-rank percentile (p in 0–100) of unsorted values; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const round = (value: number, digits = 2) => (Number.isFinite(value) ? Math.round(value * 10 ** digits) / 10 ** digits : value);

/** A histogram as passed between processes: its non-empty buckets, count and exact max. */
export interface SparseLag {
  buckets: [number, number][];
  count: number;
  maxMs: number;
}

/** Lag samples in 0.1 ms buckets up to a ceiling (beyond it: the last bucket); max kept exactly. */
export class LagHistogram {
  static readonly bucketMs = 0.1;
  private readonly counts: Uint32Array;
  count = 0;
  maxMs = 0;

  constructor(readonly ceilingMs = 300_000) {
    this.counts = new Uint32Array(Math.ceil(ceilingMs / LagHistogram.bucketMs) + 1);
  }

  add(lagMs: number): void {
    const clamped = Math.max(0, lagMs);
    const bucket = Math.min(this.counts.length - 1, Math.floor(clamped / LagHistogram.bucketMs));
    this.counts[bucket]! += 1;
    this.count += 1;
    if (clamped > this.maxMs) this.maxMs = clamped;
  }

  /** [bucket, count] pairs of the non-empty buckets: small enough to pass between processes. */
  toSparse(): SparseLag {
    const buckets: [number, number][] = [];
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i]) buckets.push([i, this.counts[i]!]);
    return { buckets, count: this.count, maxMs: this.maxMs };
  }

  merge(sparse: SparseLag): void {
    for (const [bucket, count] of sparse.buckets) this.counts[bucket]! += count;
    this.count += sparse.count;
    this.maxMs = Math.max(this.maxMs, sparse.maxMs);
  }

  /** Upper edge of the bucket holding the p-th percentile (never above the exact max). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this.maxMs, (i + 1) * LagHistogram.bucketMs);
    }
    return this.maxMs;
  }
}
