/** A small Prometheus registry: counters, gauges read at scrape time, one histogram. */

type Labels = Record<string, string | number>;

const labelKey = (labels: Labels) =>
  Object.entries(labels)
    .map(([name, value]) => `${name}="${String(value).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
    /** Label series that exist from the start at 0, so rate() and dashboards see them before the first event. */
    initialSeries: Labels[] = [],
  ) {
    for (const labels of initialSeries) this.values.set(labelKey(labels), 0);
  }
  inc(labels: Labels = {}, by = 1): void {
    const key = labelKey(labels);
    this.values.set(key, (this.values.get(key) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [key, value] of this.values) lines.push(`${this.name}${key ? `{${key}}` : ''} ${value}`);
    return lines;
  }
}

class Histogram {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {}
  observe(labels: Labels, value: number): void {
    const key = labelKey(labels);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(key, entry);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) entry.counts[i]! += 1;
    entry.sum += value;
    entry.count += 1;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [key, entry] of this.series) {
      const prefix = key ? `${key},` : '';
      this.buckets.forEach((bound, i) => lines.push(`${this.name}_bucket{${prefix}le="${bound}"} ${entry.counts[i]}`));
      lines.push(`${this.name}_bucket{${prefix}le="+Inf"} ${entry.count}`);
      lines.push(`${this.name}_sum${key ? `{${key}}` : ''} ${entry.sum}`);
      lines.push(`${this.name}_count${key ? `{${key}}` : ''} ${entry.count}`);
    }
    return lines;
  }
}

export interface GaugeSource {
  name: string;
  help: string;
  read: () => number;
}

export function createMetrics() {
  const wsMessagesSent = new Counter('seatwatch_ws_messages_sent_total', 'WebSocket messages sent to clients (one per recipient)', [{}]);
  // result: confirmed, replayed (Idempotency-Key repeat), cancelled, or the error code that refused it (sold_out, event_not_found, …)
  const bookings = new Counter(
    'seatwatch_bookings_total',
    'Booking attempts by result',
    ['confirmed', 'sold_out', 'cancelled'].map((result) => ({ result })),
  );
  // result: created, replayed, confirmed, released, expired, extended, or the error code that refused it (sold_out, hold_limit_reached, …)
  const holds = new Counter(
    'seatwatch_holds_total',
    'Hold operations by result',
    ['created', 'confirmed', 'released', 'expired', 'sold_out'].map((result) => ({ result })),
  );
  const queueJoined = new Counter('seatwatch_queue_joined_total', 'Users who joined an event’s waiting line (not counting repeats)', [{}]);
  // Counted once across processes: by whichever process first saw the line move past them.
  const queueAdmitted = new Counter('seatwatch_queue_admitted_total', 'Tickets admitted from waiting lines', [{}]);
  const httpRequests = new Counter('seatwatch_http_requests_total', 'HTTP requests by method, route and status');
  const httpDuration = new Histogram('seatwatch_http_request_duration_seconds', 'HTTP request duration in seconds', [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
  ]);
  const gauges: GaugeSource[] = [];
  return {
    wsMessagesSent,
    bookings,
    holds,
    queueJoined,
    queueAdmitted,
    httpRequests,
    httpDuration,
    addGauge(gauge: GaugeSource) {
      gauges.push(gauge);
    },
    render(): string {
      const lines: string[] = [];
      for (const gauge of gauges) lines.push(`# HELP ${gauge.name} ${gauge.help}`, `# TYPE ${gauge.name} gauge`, `${gauge.name} ${gauge.read()}`);
      lines.push(...wsMessagesSent.render(), ...bookings.render(), ...holds.render(), ...queueJoined.render(), ...queueAdmitted.render(), ...httpRequests.render(), ...httpDuration.render());
      return lines.join('\n') + '\n';
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
