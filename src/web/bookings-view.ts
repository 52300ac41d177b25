/** "My bookings": newest first, each confirmed one with its Cancel button. */
import type { PublicBooking } from './api';
import { h } from './dom';

export interface BookingsViewActions {
  cancel(bookingId: number): void;
  eventName(eventId: number): string;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });

export function createBookingsView(container: HTMLElement, actions: BookingsViewActions) {
  function row(booking: PublicBooking): HTMLElement {
    const name = actions.eventName(booking.eventId);
    const seats = `${booking.quantity} ${booking.quantity === 1 ? 'seat' : 'seats'}`;
    const confirmed = booking.status === 'confirmed';
    const when = confirmed ? `booked ${timeFormat.format(new Date(booking.createdAt))}` : `cancelled ${timeFormat.format(new Date(booking.cancelledAt ?? booking.createdAt))}`;
    const cancel = h('button', { type: 'button', class: 'button button-quiet button-small', 'data-action': 'cancel', 'aria-label': `Cancel booking #${booking.id}: ${seats} for ${name}` }, 'Cancel');
    cancel.addEventListener('click', () => actions.cancel(booking.id));
    return h(
      'li',
      { class: `booking ${confirmed ? 'is-confirmed' : 'is-cancelled'}`, 'data-booking-id': booking.id, 'data-status': booking.status },
      h('div', { class: 'booking-main' }, h('span', { class: 'booking-event' }, name), h('span', { class: 'booking-meta' }, `${seats} · ${when}`)),
      confirmed ? cancel : h('span', { class: 'badge badge-muted' }, 'Cancelled'),
    );
  }

  return {
    render(bookings: PublicBooking[]): void {
      if (bookings.length === 0) {
        container.replaceChildren(h('p', { class: 'empty' }, 'No bookings yet. Pick an event and press Book.'));
        return;
      }
      container.replaceChildren(h('ul', { class: 'booking-list' }, ...bookings.map(row)));
    },
    setBusy(bookingId: number, busy: boolean): void {
      const button = container.querySelector<HTMLButtonElement>(`[data-booking-id="${bookingId}"] [data-action="cancel"]`);
      if (!button) return;
      button.disabled = busy;
      button.setAttribute('aria-busy', String(busy));
    },
  };
}
