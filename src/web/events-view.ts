/** The event cards: live seat counts, the sold-out state, and Book with a quantity. */
import type { PublicEvent } from './api';
import { flash, h } from './dom';

export const MAX_SEATS_PER_BOOKING = 10;

export interface SeatCount {
  availableSeats: number;
  capacity: number;
}

export interface EventsViewActions {
  book(eventId: number, quantity: number): void;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

const seatsWord = (count: number) => (count === 1 ? 'seat' : 'seats');

export function createEventsView(container: HTMLElement, actions: EventsViewActions) {
  const cards = new Map<number, HTMLElement>();
  const eventsById = new Map<number, PublicEvent>();

  function card(event: PublicEvent): HTMLElement {
    const titleId = `event-${event.id}-title`;
    const quantityId = `event-${event.id}-quantity`;
    const quantity = h('select', { id: quantityId, name: 'quantity' });
    for (let count = 1; count <= MAX_SEATS_PER_BOOKING; count++) quantity.append(h('option', { value: count }, String(count)));
    const onSale = event.status === 'published';
    const form = h(
      'form',
      { class: 'book-form', 'aria-label': `Book seats for ${event.name}` },
      h('label', { class: 'quantity-label', for: quantityId }, 'Seats'),
      quantity,
      h('button', { type: 'submit', class: 'button button-primary', 'data-action': 'book', 'aria-label': `Book seats for ${event.name}` }, 'Book'),
    );
    form.addEventListener('submit', (submitted) => {
      submitted.preventDefault();
      actions.book(event.id, Number(quantity.value));
    });

    const element = h(
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
      ),
      h('div', { class: 'meter', 'aria-hidden': 'true' }, h('span', { class: 'meter-fill', 'data-meter': true })),
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
    const taken = seats.capacity === 0 ? 1 : (seats.capacity - seats.availableSeats) / seats.capacity;
    element.querySelector<HTMLElement>('[data-meter]')!.style.width = `${Math.round(taken * 100)}%`;

    const quantity = element.querySelector<HTMLSelectElement>('select[name="quantity"]');
    const button = element.querySelector<HTMLButtonElement>('[data-action="book"]');
    if (quantity && button) {
      for (const option of quantity.options) option.disabled = Number(option.value) > seats.availableSeats;
      if (Number(quantity.value) > seats.availableSeats) quantity.value = String(Math.max(1, Math.min(seats.availableSeats, MAX_SEATS_PER_BOOKING)));
      quantity.disabled = soldOut;
      button.disabled = soldOut || element.classList.contains('is-busy');
      button.textContent = soldOut ? 'Sold out' : 'Book';
    }
    if (changed) flash(count, 'just-changed');
  }

  return {
    render(events: PublicEvent[]): void {
      cards.clear();
      eventsById.clear();
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
      button.disabled = busy || element.classList.contains('is-sold-out');
      button.setAttribute('aria-busy', String(busy));
    },
    nameOf(eventId: number): string {
      return eventsById.get(eventId)?.name ?? `Event #${eventId}`;
    },
  };
}

export type EventsView = ReturnType<typeof createEventsView>;
