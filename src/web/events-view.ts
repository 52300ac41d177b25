/**
 * The event cards: live seat counts (available, and held in someone's cart), the sold-out state,
 * and Book or Hold with a quantity; an event with a waiting room gets a slot for its line
 * (`queueSlot`, filled by waiting-room-view.ts). When a live
 * update leaves fewer seats than the quantity picked, the card says so and no quantity is
 * picked until the user picks one (Book waits): Book never books a number the user did not choose.
 */
import type { PublicEvent } from './api';
import { flash, h } from './dom';

export const MAX_SEATS_PER_BOOKING = 10;

export interface SeatCount {
  availableSeats: number;
  /** Seats in active holds: not available, not booked yet. */
  heldSeats: number;
  capacity: number;
}

export interface EventsViewActions {
  book(eventId: number, quantity: number): void;
  hold(eventId: number, quantity: number): void;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

const seatsWord = (count: number) => (count === 1 ? 'seat' : 'seats');

/** The select's value while no quantity is picked. */
const NOT_PICKED = '';

export function createEventsView(container: HTMLElement, actions: EventsViewActions) {
  const cards = new Map<number, HTMLElement>();
  const eventsById = new Map<number, PublicEvent>();
  /** Quantities the user picked that the seats left no longer allow, by event */
  const unmetPicks = new Map<number, number>();

  function card(event: PublicEvent): HTMLElement {
    const titleId = `event-${event.id}-title`;
    const quantityId = `event-${event.id}-quantity`;
    const quantity = h('select', { id: quantityId, name: 'quantity' });
    // Shown only while the pick was undone by a live update.
    quantity.append(h('option', { value: NOT_PICKED, disabled: true, hidden: true }, 'Pick'));
    for (let count = 1; count <= MAX_SEATS_PER_BOOKING; count++) quantity.append(h('option', { value: count, selected: count === 1 }, String(count)));
    const pickNotice = h('p', { class: 'pick-notice', 'data-pick-notice': true, role: 'alert', hidden: true });
    const onSale = event.status === 'published';
    const hasLine = onSale && event.queueRatePerMinute !== null;
    // A waiting room says when sales open itself; without one, the card does.
    const salesOpenNote =
      onSale && !hasLine && event.salesStartAt !== null && Date.parse(event.salesStartAt) > Date.now()
        ? h('p', { class: 'event-note' }, `Sales open ${dateFormat.format(new Date(event.salesStartAt))}.`)
        : null;
    const holdButton = h(
      'button',
      { type: 'button', class: 'button button-quiet', 'data-action': 'hold', 'aria-label': `Hold seats for ${event.name}`, title: 'Keep the seats for a while, then confirm' },
      'Hold',
    );
    const form = h(
      'form',
      { class: 'book-form', 'aria-label': `Book seats for ${event.name}` },
      h('label', { class: 'quantity-label', for: quantityId }, 'Seats'),
      quantity,
      h('button', { type: 'submit', class: 'button button-primary', 'data-action': 'book', 'aria-label': `Book seats for ${event.name}` }, 'Book'),
      holdButton,
      pickNotice,
    );
    holdButton.addEventListener('click', () => {
      if (quantity.value === NOT_PICKED) return;
      actions.hold(event.id, Number(quantity.value));
    });
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      if (quantity.value === NOT_PICKED) return;
      actions.book(event.id, Number(quantity.value));
    });
    quantity.addEventListener('change', () => {
      unmetPicks.delete(event.id);
      pickNotice.hidden = true;
      updateActionButtons(element);
    });

    const element: HTMLElement = h(
      'article',
      { class: 'event-card', 'data-event-id': event.id, 'aria-labelledby': titleId },
      h(
        'div',
        { class: 'event-head' },
        h('h3', { id: titleId, class: 'event-title' }, event.name),
        h('span', { class: 'badge badge-sold-out', 'data-sold-out-badge': true }, 'Sold out'),
        !onSale && h('span', { class: 'badge badge-draft' }, 'Draft'),
      ),
      h('p', { class: 'event-meta' }, [event.venue, dateFormat.format(new Date(event.startsAt))].filter(Boolean).join(' · ')),
      event.description ? h('p', { class: 'event-description' }, event.description) : null,
      h(
        'div',
        { class: 'seat-line' },
        h('span', { class: 'seat-count', 'data-available-seats': true, 'aria-live': 'polite' }, String(event.availableSeats)),
        h('span', { class: 'seat-caption', 'data-seat-caption': true }),
        h(
          'span',
          { class: 'held-line', 'data-held-line': true, title: 'Seats in carts: they come back if not confirmed in time' },
          h('span', { class: 'held-count', 'data-held-seats': true, 'aria-live': 'polite' }, String(event.heldSeats)),
          ' held',
        ),
      ),
      h(
        'div',
        { class: 'meter', 'aria-hidden': 'true' },
        h('span', { class: 'meter-fill', 'data-meter': true }),
        h('span', { class: 'meter-held', 'data-meter-held': true }),
      ),
      hasLine && h('div', { class: 'line-slot', 'data-queue': true }),
      salesOpenNote,
      onSale ? form : h('p', { class: 'event-note' }, 'Not on sale yet: only you, the organizer, can see this draft.'),
    );
    return element;
  }

  function paint(eventId: number, seats: SeatCount): void {
    const element = cards.get(eventId);
    if (!element) return;
    const count = element.querySelector<HTMLElement>('[data-available-seats]')!;
    const changed = count.textContent !== String(seats.availableSeats);
    count.textContent = String(seats.availableSeats);
    const soldOut = seats.availableSeats === 0;
    // "Going fast" only once some have gone: a tiny event with every seat free is not selling out.
    const low = !soldOut && seats.availableSeats < seats.capacity && seats.availableSeats <= Math.max(5, Math.ceil(seats.capacity * 0.1));
    element.classList.toggle('is-sold-out', soldOut);
    element.classList.toggle('is-low', low);
    element.querySelector('[data-seat-caption]')!.textContent = soldOut
      ? `All ${seats.capacity} seats are taken`
      : `of ${seats.capacity} ${seatsWord(seats.capacity)} left${low ? ' — going fast' : ''}`;
    const booked = seats.capacity === 0 ? 1 : (seats.capacity - seats.availableSeats - seats.heldSeats) / seats.capacity;
    const held = seats.capacity === 0 ? 0 : seats.heldSeats / seats.capacity;
    element.querySelector<HTMLElement>('[data-meter]')!.style.width = `${Math.round(booked * 100)}%`;
    element.querySelector<HTMLElement>('[data-meter-held]')!.style.width = `${Math.round(held * 100)}%`;
    const heldCount = element.querySelector<HTMLElement>('[data-held-seats]')!;
    const heldChanged = heldCount.textContent !== String(seats.heldSeats);
    heldCount.textContent = String(seats.heldSeats);
    element.classList.toggle('has-held', seats.heldSeats > 0);
    if (heldChanged) flash(heldCount, 'just-changed');

    const quantity = element.querySelector<HTMLSelectElement>('select[name="quantity"]');
    const button = element.querySelector<HTMLButtonElement>('[data-action="book"]');
    if (quantity && button) {
      for (const option of quantity.options) if (option.value !== NOT_PICKED) option.disabled = Number(option.value) > seats.availableSeats;
      if (soldOut) element.querySelector<HTMLElement>('[data-pick-notice]')!.hidden = true;
      else keepPick(eventId, element, quantity, seats.availableSeats);
      quantity.disabled = soldOut;
      button.textContent = soldOut ? 'Sold out' : 'Book';
      updateActionButtons(element);
    }
    if (changed) flash(count, 'just-changed');
  }

  /**
   * The pick stands while the seats allow it. When they fall below it, the pick is undone and the
   * card says why; when they come back, so does the pick. While sold out the pick is left as it is.
   */
  function keepPick(eventId: number, element: HTMLElement, quantity: HTMLSelectElement, availableSeats: number): void {
    const notice = element.querySelector<HTMLElement>('[data-pick-notice]')!;
    const picked = unmetPicks.get(eventId) ?? Number(quantity.value);
    if (picked <= availableSeats) {
      unmetPicks.delete(eventId);
      quantity.value = String(picked);
      notice.hidden = true;
      return;
    }
    unmetPicks.set(eventId, picked);
    quantity.value = NOT_PICKED;
    notice.textContent = `Only ${availableSeats} left — you picked ${picked}. Choose how many to book.`;
    notice.hidden = false;
  }

  function updateActionButtons(element: HTMLElement): void {
    const quantity = element.querySelector<HTMLSelectElement>('select[name="quantity"]');
    const button = element.querySelector<HTMLButtonElement>('[data-action="book"]');
    if (!quantity || !button) return;
    const hold = element.querySelector<HTMLButtonElement>('[data-action="hold"]');
    button.disabled = element.classList.contains('is-sold-out') || element.classList.contains('is-busy') || quantity.value === NOT_PICKED;
    if (hold) hold.disabled = button.disabled;
  }

  return {
    render(events: PublicEvent[]): void {
      cards.clear();
      eventsById.clear();
      unmetPicks.clear();
      container.replaceChildren();
      if (events.length === 0) {
        container.append(h('p', { class: 'empty' }, 'No events are on sale right now.'));
        return;
      }
      for (const event of events) {
        const element = card(event);
        cards.set(event.id, element);
        eventsById.set(event.id, event);
        container.append(element);
        paint(event.id, event);
      }
    },
    updateSeats(eventId: number, seats: SeatCount): void {
      paint(eventId, seats);
    },
    setBusy(eventId: number, busy: boolean): void {
      const element = cards.get(eventId);
      const button = element?.querySelector<HTMLButtonElement>('[data-action="book"]');
      if (!element || !button) return;
      element.classList.toggle('is-busy', busy);
      updateActionButtons(element);
      button.setAttribute('aria-busy', String(busy));
      element.querySelector('[data-action="hold"]')?.setAttribute('aria-busy', String(busy));
    },
    /** Where the event's waiting line is shown; null when it has none. */
    queueSlot(eventId: number): HTMLElement | null {
      return cards.get(eventId)?.querySelector<HTMLElement>('[data-queue]') ?? null;
    },
    nameOf(eventId: number): string {
      return eventsById.get(eventId)?.name ?? `Event #${eventId}`;
    },
  };
}

export type EventsView = ReturnType<typeof createEventsView>;
