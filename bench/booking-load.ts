import { benchClockMs } from './clock';

/**
 * C concurrent clients booking one seat at a time over HTTP until the event answers sold_out —
 * the booking side of `booking`, `selloff` and `slow-consumer`.
 */
export interface BookingLoadOptions {
  baseUrl: string;
  eventId: number;
  tokens: readonly string[];
  concurrency: number;
  /** Stop after this many confirmed bookings even if seats remain. */
  maxBookings?: number;
  /** Called with each confirmed booking's availableSeats and the time its response arrived. */
  onBooked?: (availableSeats: number, respondedAt: number) => void;
  /** Checked between requests; true stops the load early. */
  shouldStop?: () => boolean;
  deadlineMs?: number;
}

export interface BookingLoadResult {
  confirmed: number;
  soldOutAnswers: number;
  failures: number;
  firstFailure: string;
  latenciesMs: number[];
  elapsedMs: number;
  timedOut: boolean;
}

export async function runBookingLoad(options: BookingLoadOptions): Promise<BookingLoadResult> {
  const result: BookingLoadResult = { confirmed: 0, soldOutAnswers: 0, failures: 0, firstFailure: '', latenciesMs: [], elapsedMs: 0, timedOut: false };
  const body = JSON.stringify({ eventId: options.eventId, quantity: 1 });
  const startedAt = benchClockMs();
  const deadline = startedAt + (options.deadlineMs ?? 120_000);
  let soldOut = false;

  async function client(index: number): Promise<void> {
    const headers = {
      authorization: `Bearer ${options.tokens[index % options.tokens.length]}`,
      'content-type': 'application/json',
    };
    while (!soldOut) {
      if (options.maxBookings !== undefined && result.confirmed >= options.maxBookings) return;
      if (options.shouldStop?.()) return;
      if (benchClockMs() > deadline) {
        result.timedOut = true;
        return;
      }
      const sentAt = benchClockMs();
      try {
        const response = await fetch(`${options.baseUrl}/api/bookings`, { method: 'POST', headers, body });
        const text = await response.text();
        const respondedAt = benchClockMs();
        if (response.status === 201) {
          result.confirmed += 1;
          result.latenciesMs.push(respondedAt - sentAt);
          options.onBooked?.(JSON.parse(text).availableSeats, respondedAt);
        } else if (response.status === 409 && text.includes('"sold_out"')) {
          result.soldOutAnswers += 1;
          soldOut = true;
        } else {
          result.failures += 1;
          result.firstFailure ||= `HTTP ${response.status} ${text.slice(0, 200)}`;
          if (result.failures > 100) return;
        }
      } catch (error) {
        result.failures += 1;
        result.firstFailure ||= String(error);
        if (result.failures > 100) return;
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, (_, index) => client(index)));
  result.elapsedMs = benchClockMs() - startedAt;
  return result;
}
