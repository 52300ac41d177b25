/**
 * Holds on the page (SPEC §6, §8): Hold on an event card, then Confirm, Extend or Release in
 * "My holds"; the owner's `hold_expiring` and `hold_expired` (client library `onHold`) as
 * notices. A hold leaves the list when the server says it is over: confirmed, released, or
 * expired with its seats back on sale.
 */
import type { HoldMessage } from '../client';
import { ApiError, type Api } from './api';
import type { EventsView } from './events-view';
import { createHoldsView } from './holds-view';
import type { createNotice } from './notice';
import { createServerClock, type ServerClock } from './server-clock';

export interface HoldsDependencies {
  api: Pick<Api, 'holds' | 'holdById' | 'hold' | 'confirmHold' | 'extendHold' | 'releaseHold'>;
  notice: ReturnType<typeof createNotice>;
  eventsView: Pick<EventsView, 'nameOf' | 'setBusy'>;
  /** A refused token ends the session; anything else is shown. */
  handleFailure(error: unknown, fallback: string): void;
  refreshBookings(): Promise<void>;
  /** The page's estimate of the server's clock, shared with its other countdowns; a clock of its own without one. */
  clock?: ServerClock;
}

const seatsWord = (count: number) => `${count} ${count === 1 ? 'seat' : 'seats'}`;

const timeLeft = (seconds: number) => (seconds >= 60 ? `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')} min` : `${seconds} s`);

export function createHolds(container: HTMLElement, { api, notice, eventsView, handleFailure, refreshBookings, clock = createServerClock() }: HoldsDependencies) {
  const view = createHoldsView(container, clock, { confirm, extend, release, expiredLocally, eventName: (eventId) => eventsView.nameOf(eventId) });

  const describe = (holdId: number) => {
    const hold = view.get(holdId);
    return hold ? `${seatsWord(hold.quantity)} for ${eventsView.nameOf(hold.eventId)}` : `hold #${holdId}`;
  };
  const secondsLeft = (expiresAt: string) => Math.max(0, Math.round((Date.parse(expiresAt) - clock.now()) / 1000));

  /**
   * The hold's seats came back on sale (it expired): off the list with a notice, once. A hold this
   * page never listed (made in another tab) is still told of, by its event.
   */
  function expired(holdId: number, eventId?: number): void {
    const listed = view.get(holdId) !== undefined;
    const what = listed || eventId === undefined ? describe(holdId) : `${eventsView.nameOf(eventId)}`;
    if (view.remove(holdId) || (!listed && eventId !== undefined)) notice.show(`Your hold on ${what} expired: the seats were released.`, 'info');
  }

  /** A hold action the server refused because the hold is over: true when that was the reason. */
  function over(holdId: number, error: unknown): boolean {
    if (!(error instanceof ApiError)) return false;
    if (error.code === 'hold_expired') {
      expired(holdId);
      return true;
    }
    if (error.code === 'hold_not_active' || error.code === 'hold_not_found') {
      // Confirmed or released elsewhere (another tab): the lists say how it ended.
      const what = describe(holdId);
      view.remove(holdId);
      notice.show(`Your hold on ${what} is no longer active.`, 'info');
      void refresh().catch(() => {});
      void refreshBookings().catch(() => {});
      return true;
    }
    return false;
  }

  async function hold(eventId: number, quantity: number): Promise<void> {
    const name = eventsView.nameOf(eventId);
    eventsView.setBusy(eventId, true);
    try {
      const sentAt = Date.now();
      const result = await api.hold(eventId, quantity);
      clock.observe(result.hold.createdAt, sentAt, Date.now());
      view.show(result.hold);
      notice.show(`Holding ${seatsWord(quantity)} for ${name} for ${timeLeft(secondsLeft(result.hold.expiresAt))}: confirm to book them.`, 'success');
    } catch (error) {
      if (error instanceof ApiError && error.code === 'sold_out') {
        const left = Number(error.fields.availableSeats ?? 0);
        notice.show(left === 0 ? `${name} has no free seats to hold.` : `Only ${seatsWord(left)} free for ${name}: choose fewer.`, 'error');
      } else if (error instanceof ApiError && error.code === 'hold_limit_reached') notice.show(error.message, 'error');
      else handleFailure(error, 'Holding seats failed.');
    } finally {
      eventsView.setBusy(eventId, false);
    }
  }

  async function confirm(holdId: number): Promise<void> {
    const what = describe(holdId);
    view.setBusy(holdId, true);
    try {
      const result = await api.confirmHold(holdId);
      view.remove(holdId);
      notice.show(`Booked ${what} from your hold. ${result.availableSeats} left.`, 'success');
      await refreshBookings();
    } catch (error) {
      if (over(holdId, error)) return;
      view.setBusy(holdId, false);
      handleFailure(error, 'Confirming failed.');
    }
  }

  async function extend(holdId: number): Promise<void> {
    view.setBusy(holdId, true);
    try {
      const { hold: extended } = await api.extendHold(holdId);
      view.show(extended);
      notice.show(`Extended: ${describe(holdId)} held for ${timeLeft(secondsLeft(extended.expiresAt))} more.`, 'success');
    } catch (error) {
      if (over(holdId, error)) return;
      view.setBusy(holdId, false);
      if (error instanceof ApiError && error.code === 'hold_extension_limit') {
        view.extensionsUsedUp(holdId);
        notice.show(`${error.message}. Confirm before the countdown ends, or the seats are released.`, 'error');
      } else handleFailure(error, 'Extending failed.');
    }
  }

  async function release(holdId: number): Promise<void> {
    const what = describe(holdId);
    view.setBusy(holdId, true);
    try {
      await api.releaseHold(holdId);
      view.remove(holdId);
      notice.show(`Released ${what}.`, 'success');
    } catch (error) {
      if (over(holdId, error)) return;
      view.setBusy(holdId, false);
      handleFailure(error, 'Releasing failed.');
    }
  }

  /** The countdown reached 0: the server's word decides (its sweeper gives the seats back within a second). */
  async function expiredLocally(holdId: number): Promise<void> {
    try {
      const { hold: current } = await api.holdById(holdId);
      if (current.status === 'active') view.reportAgainLater(holdId);
      else if (current.status === 'expired') expired(holdId);
      else {
        view.remove(holdId);
        if (current.status === 'confirmed') await refreshBookings();
      }
    } catch (error) {
      if (!over(holdId, error)) view.reportAgainLater(holdId);
    }
  }

  async function refresh(): Promise<void> {
    const { holds } = await api.holds();
    view.render(holds);
  }

  return {
    hold,
    refresh,
    /** A personal hold message from the live connection. */
    heard(message: HoldMessage): void {
      if (message.type === 'hold_expired') return expired(message.holdId, message.eventId);
      const what = view.get(message.holdId) ? describe(message.holdId) : eventsView.nameOf(message.eventId);
      notice.show(`Your hold on ${what} expires in ${timeLeft(secondsLeft(message.expiresAt))}: confirm or extend it.`, 'info');
      // A hold made in another tab is not listed here yet: read the list, so it can be confirmed from this one.
      if (view.get(message.holdId)) view.markExpiring(message.holdId, message.expiresAt);
      else void refresh().then(() => view.markExpiring(message.holdId, message.expiresAt)).catch(() => {});
    },
    /** Signed out: nothing held is shown, no countdown runs. */
    clear(): void {
      view.render([]);
    },
  };
}
