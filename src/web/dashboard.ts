/**
 * The dashboard page (SPEC §6): sign in, watch every event's seats live over one WebSocket
 * (the client library), book and cancel through the REST API, hold seats and confirm, extend or
 * release the holds (holds.ts), and wait in a sale's line (waiting-room.ts). The socket's token
 * source refreshes the signed-in token, so a page left open outlives the token it signed in with.
 */
import { createSeatwatchClient, type ConnectionStateChange, type SeatwatchClient } from '../client';
import { ApiError, createApi, type PublicUser } from './api';
import { createBookingsView } from './bookings-view';
import { createConnectionIndicator } from './connection-indicator';
import { required } from './dom';
import { createEventsView } from './events-view';
import { createHolds } from './holds';
import { createMessageLog } from './message-log';
import { createNotice } from './notice';
import { createServerClock } from './server-clock';
import { session } from './session';
import { createTokenSource } from './token-source';
import { createWaitingRoom } from './waiting-room';

const api = createApi(() => session.token());
const notice = createNotice(required('[data-notice]'));
const indicator = createConnectionIndicator(required('[data-connection-state]'), required('[data-banner]'), required('[data-banner-text]'));
const messageLog = createMessageLog(required<HTMLOListElement>('[data-message-log]'));
const signInView = required('[data-view="sign-in"]');
const dashboardView = required('[data-view="dashboard"]');
const signInForm = required<HTMLFormElement>('[data-form="sign-in"]');
const signInError = required('[data-sign-in-error]');
const account = required('[data-account]');
const accountName = required('[data-account-name]');

const seatsWord = (count: number) => `${count} ${count === 1 ? 'seat' : 'seats'}`;

const eventsView = createEventsView(required('[data-events]'), { book, hold: (eventId, quantity) => void holds.hold(eventId, quantity) });
const bookingsView = createBookingsView(required('[data-bookings]'), { cancel, eventName: (eventId) => eventsView.nameOf(eventId) });
// One estimate of the server's clock for every countdown on the page: each server-stamped answer improves it.
const clock = createServerClock();
const holds = createHolds(required('[data-holds]'), { api, notice, eventsView, handleFailure, refreshBookings, clock });
const waitingRoom = createWaitingRoom({
  api,
  notice,
  clock,
  eventsView,
  positionOf: (eventId, ticket) => live?.queuePosition(eventId, ticket) ?? null,
  handleFailure,
});

let live: SeatwatchClient | null = null;
let signedInUser: PublicUser | null = null;

function showConnection(change: Pick<ConnectionStateChange, 'state' | 'retryInMs'>): void {
  indicator.show(change, signedInUser !== null);
}

function showSignIn(message?: string): void {
  signedInUser = null;
  live?.close();
  live = null;
  holds.clear();
  waitingRoom.clear();
  showConnection({ state: 'closed' });
  dashboardView.hidden = true;
  account.hidden = true;
  signInView.hidden = false;
  signInError.hidden = !message;
  signInError.textContent = message ?? '';
  required<HTMLInputElement>('input[name="email"]', signInForm).focus();
}

function signOut(message?: string): void {
  session.clear();
  showSignIn(message);
}

/** A refused token anywhere means the session is over; a sale's gate (not open yet, not your turn) says why. */
function handleFailure(error: unknown, fallback: string): void {
  if (error instanceof ApiError && error.status === 401) {
    signOut('Your session has ended. Please sign in again.');
    return;
  }
  notice.show(waitingRoom.refusal(error) ?? (error instanceof Error ? error.message : fallback), 'error');
}

async function enterDashboard(user: PublicUser): Promise<void> {
  signedInUser = user;
  signInView.hidden = true;
  dashboardView.hidden = false;
  account.hidden = false;
  accountName.textContent = user.name ?? user.email;
  accountName.title = user.email;
  try {
    const { events } = await api.events();
    eventsView.render(events);
    waitingRoom.render(events);
    watchLive(events.map((event) => event.id));
    await Promise.all([refreshBookings(), holds.refresh(), waitingRoom.refresh()]);
  } catch (error) {
    handleFailure(error, 'Could not load the events.');
  }
}

function watchLive(eventIds: number[]): void {
  live?.close();
  const tokenSource = createTokenSource(api, () => signOut('Your session has expired. Please sign in again.'));
  const client = createSeatwatchClient({ url: location.origin, token: tokenSource, reconnectCapMs: 10_000 });
  live = client;
  client.onStateChange((change) => {
    showConnection(change);
    if (change.state !== change.previous) messageLog.note(`connection: ${change.state}${change.closeCode ? ` (close ${change.closeCode})` : ''}`);
    if (change.state === 'closed' && change.closedReason === 'unauthorized') signOut('Your session has expired. Please sign in again.');
    // Bookings made elsewhere while we were away show up too.
    if (change.state === 'open' && change.previous === 'reconnecting') {
      void refreshBookings().catch(() => {});
      // A hold_expired sent while we were away is not sent again: the list is read afresh.
      void holds.refresh().catch(() => {});
      // queue_progress is not replayed either: the place is read afresh.
      void waitingRoom.refresh();
    }
  });
  client.onSeats((eventId, seats) => eventsView.updateSeats(eventId, seats));
  client.onHold((message) => holds.heard(message));
  client.onQueueProgress((progress) => waitingRoom.heard(progress));
  client.onMessage((message, rawText) => messageLog.message(message.type, rawText));
  // The connection carries on until its token's expiry, then reconnects with a fresh one.
  client.onTokenRefreshError((error) => messageLog.note(`token refresh failed (${error.reason}); reconnecting at ${error.expiresAt}`));
  for (const eventId of eventIds) client.subscribe(eventId);
  showConnection({ state: client.state });
}

async function refreshBookings(): Promise<void> {
  const { bookings } = await api.bookings();
  bookingsView.render(bookings);
}

// Seat messages say nothing of who booked, so bookings this user made on another device or tab
// show up when this one is looked at again.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState !== 'visible' || !signedInUser) return;
  void refreshBookings().catch(() => {});
  void holds.refresh().catch(() => {});
  void waitingRoom.refresh();
});

async function book(eventId: number, quantity: number): Promise<void> {
  const name = eventsView.nameOf(eventId);
  eventsView.setBusy(eventId, true);
  try {
    const sentAt = Date.now();
    const result = await api.book(eventId, quantity);
    clock.observe(result.booking.createdAt, sentAt, Date.now());
    notice.show(`Booked ${seatsWord(quantity)} for ${name}. ${result.availableSeats} left.`, 'success');
    await refreshBookings();
  } catch (error) {
    if (error instanceof ApiError && error.code === 'sold_out') {
      const left = Number(error.fields.availableSeats ?? 0);
      notice.show(left === 0 ? `${name} is sold out.` : `Only ${seatsWord(left)} left for ${name}: choose fewer.`, 'error');
    } else handleFailure(error, 'Booking failed.');
  } finally {
    eventsView.setBusy(eventId, false);
  }
}

async function cancel(bookingId: number): Promise<void> {
  bookingsView.setBusy(bookingId, true);
  try {
    const result = await api.cancel(bookingId);
    notice.show(`Cancelled ${seatsWord(result.booking.quantity)} for ${eventsView.nameOf(result.booking.eventId)}.`, 'success');
    await refreshBookings();
  } catch (error) {
    bookingsView.setBusy(bookingId, false);
    handleFailure(error, 'Cancelling failed.');
  }
}

signInForm.addEventListener('submit', async (submitted) => {
  submitted.preventDefault();
  const form = new FormData(signInForm);
  const email = String(form.get('email') ?? '').trim();
  const password = String(form.get('password') ?? '');
  const registering = (submitted.submitter as HTMLButtonElement | null)?.dataset.action === 'register';
  const buttons = signInForm.querySelectorAll('button');
  for (const button of buttons) button.disabled = true;
  signInError.hidden = true;
  try {
    const { token, user } = registering ? await api.register(email, password) : await api.login(email, password);
    session.save(token);
    await enterDashboard(user);
  } catch (error) {
    signInError.hidden = false;
    signInError.textContent =
      error instanceof ApiError && error.code === 'invalid_credentials'
        ? 'That email and password do not match an account.'
        : error instanceof ApiError && error.code === 'email_taken'
          ? 'An account with that email exists already: sign in instead.'
          : error instanceof Error
            ? error.message
            : 'Signing in failed.';
  } finally {
    for (const button of buttons) button.disabled = false;
  }
});

required('[data-action="sign-out"]').addEventListener('click', () => {
  signOut();
  notice.show('Signed out.', 'info');
});
required('[data-action="retry-now"]').addEventListener('click', () => live?.reconnectNow());
required('[data-action="clear-log"]').addEventListener('click', () => messageLog.clear());
// The browser knows before our backoff does when the network is back.
window.addEventListener('online', () => live?.reconnectNow());

async function start(): Promise<void> {
  if (!session.token()) return showSignIn();
  try {
    const { user } = await api.me();
    await enterDashboard(user);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signOut();
    else showSignIn(error instanceof Error ? error.message : undefined);
  }
}

void start();
