/**
 * onsale: a load client playing many users of one event's waiting line, each with its own
 * token, its own WebSocket on the event and its own REST calls (to the server process the
 * runner names for it). Each user joins the line, watches its `queue_progress`, asks for its
 * place once after the lottery, and books one seat as soon as a `servingThrough` it received
 * reaches its ticket. A few also try to book too early, as a control: the server must refuse.
 * One process holds up to ~19,000 users' sockets under a 20,000 open-file limit.
 */
import { apiRequest, type ApiResponse } from './api';
import { emitLine, serveCommands } from './child-protocol';
import { benchClockMs } from './clock';
import { numberAfter, typeOf } from './message-fields';
import { LagHistogram } from './stats';

type BookingState = 'none' | 'early' | 'booking' | 'booked' | 'failed';

interface LineUser {
  index: number;
  userId: number;
  token: string;
  restBase: string;
  wsBase: string;
  socket: WebSocket | null;
  open: boolean;
  /** The highest `servingThrough` this user's socket received. */
  servingThrough: number;
  /** 0 until the user learns it. */
  ticket: number;
  /** When the server admits this user (its answer's `admittedAt`), NaN until known. */
  admittedAtMs: number;
  /** When the user learned its ticket. */
  ticketKnownAtMs: number;
  booking: BookingState;
  /** The booking's `createdAt` (the database's clock, in the statement that passed the gate). */
  bookingCreatedAtMs: number;
  /** A control attempt before the user's turn was answered 201. */
  bookedEarly: boolean;
  /** `not_admitted` answers after the user's own socket said its turn had come. */
  refusals: number;
}

const PROGRESS_PREFIX = '{"type":"queue_progress"';
/** A refused booking after the user saw its turn is tried again this often, this many times. */
const REFUSED_RETRY_MS = 100;
const REFUSED_RETRIES = 20;
/** Before the lottery is drawn, a user asks for its place again this often, this many times. */
const TICKET_RETRY_MS = 250;
const TICKET_RETRIES = 40;

let users: LineUser[] = [];
let eventId = 0;
/** Set by `arm`: the sale's announced start and the time between two admissions. */
let salesStartAtMs = NaN;
let stepMs = NaN;
/** The line's last ticket: its announcement ends the line's progress. */
let lastTicket = Infinity;

const progressLag = new LagHistogram();
/** The same, from when every user here knew its ticket: the line alone, without 64 lanes asking. */
const steadyProgressLag = new LagHistogram();
/** The same, for messages before the last ticket's: while the line still moved between two reads. */
const midLineProgressLag = new LagHistogram();
/** Per socket, the lag of the message that first carried the last ticket. */
const lastTicketLag: number[] = [];
let everyTicketKnown = false;
let progressMessages = 0;
/** A `servingThrough` below one the same socket already had. */
let progressWentBack = 0;
/** Received more than 1 ms before the time its `servingThrough` was due. */
let progressBeforeDue = 0;
let seatMessages = 0;
/** How long the server took to answer each place request and each booking, as the user waited. */
const placeRequestMs: number[] = [];
const bookingRequestMs: number[] = [];
let bookingFailures = 0;
let firstFailure = '';

const codeOf = (response: ApiResponse) => `${response.status} ${response.body?.error?.code ?? ''}`.trim();

function failed(user: LineUser, what: string): void {
  user.booking = 'failed';
  bookingFailures += 1;
  firstFailure ||= `user ${user.index}: ${what}`;
}

async function timed(samples: number[], request: Promise<ApiResponse>): Promise<ApiResponse> {
  const startedAt = benchClockMs();
  const response = await request;
  samples.push(benchClockMs() - startedAt);
  return response;
}

const bookOne = (user: LineUser) => timed(bookingRequestMs, apiRequest(user.restBase, 'POST', '/api/bookings', { token: user.token, body: { eventId, quantity: 1 } }));

function noteBooked(user: LineUser, response: ApiResponse): void {
  user.booking = 'booked';
  user.bookingCreatedAtMs = Date.parse(response.body.booking.createdAt);
}

/** Books the user's seat once its socket has said its turn came. */
async function book(user: LineUser): Promise<void> {
  user.booking = 'booking';
  try {
    for (let attempt = 0; ; attempt++) {
      const response = await bookOne(user);
      if (response.status === 201) return noteBooked(user, response);
      if (response.status === 403 && response.body?.error?.code === 'not_admitted' && attempt < REFUSED_RETRIES) {
        user.refusals += 1;
        await Bun.sleep(REFUSED_RETRY_MS);
        continue;
      }
      return failed(user, `booking answered ${codeOf(response)}`);
    }
  } catch (error) {
    failed(user, String(error));
  }
}

function maybeBook(user: LineUser): void {
  if (user.booking === 'none' && user.ticket > 0 && user.servingThrough >= user.ticket) void book(user);
}

function onProgress(user: LineUser, text: string, at: number): void {
  const servingThrough = numberAfter(text, '"servingThrough":');
  if (servingThrough < user.servingThrough) {
    progressWentBack += 1;
    return;
  }
  const reachedEnd = servingThrough >= lastTicket && user.servingThrough < lastTicket;
  user.servingThrough = servingThrough;
  if (!Number.isNaN(salesStartAtMs) && servingThrough >= 1) {
    progressMessages += 1;
    const dueAt = salesStartAtMs + (servingThrough - 1) * stepMs;
    if (at < dueAt - 1) progressBeforeDue += 1;
    progressLag.add(at - dueAt);
    if (everyTicketKnown) steadyProgressLag.add(at - dueAt);
    if (reachedEnd) lastTicketLag.push(at - dueAt);
    else if (servingThrough < lastTicket) midLineProgressLag.add(at - dueAt);
  }
  maybeBook(user);
}

function openSocket(user: LineUser, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`${user.wsBase}/ws/events/${eventId}?token=${user.token}`);
    user.socket = socket;
    const timer = setTimeout(() => {
      socket.close();
      reject(new Error('no snapshot in time'));
    }, timeoutMs);
    socket.onmessage = (message) => {
      const at = benchClockMs();
      const text = message.data as string;
      if (text.startsWith(PROGRESS_PREFIX)) return onProgress(user, text, at);
      if (user.open) {
        seatMessages += 1;
        return;
      }
      const type = typeOf(text);
      if (type === 'subscribed') {
        user.open = true;
        user.servingThrough = Math.max(user.servingThrough, numberAfter(text, '"servingThrough":') || 0);
        clearTimeout(timer);
        resolve();
      } else if (type === 'error') {
        clearTimeout(timer);
        reject(new Error(text));
      }
    };
    socket.onclose = (event) => {
      const wasOpen = user.open;
      user.open = false;
      if (!wasOpen) {
        clearTimeout(timer);
        reject(new Error(`closed ${event.code} before the snapshot`));
      }
    };
  });
}

/** Runs `work` over the users, `lanes` at a time: how long it took, failures and the first one. */
async function inLanes(list: LineUser[], lanes: number, work: (user: LineUser) => Promise<void>) {
  const startedAt = benchClockMs();
  let next = 0;
  let failures = 0;
  let firstError = '';
  async function lane(): Promise<void> {
    while (next < list.length) {
      const user = list[next++]!;
      try {
        await work(user);
      } catch (error) {
        failures += 1;
        firstError ||= `user ${user.index}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(lanes, list.length) }, lane));
  return { done: list.length - failures, failures, firstError, ms: benchClockMs() - startedAt };
}

/** Answers of control attempts, by `status code`; a 201 books the user's seat (and counts against the server). */
function earlyTally() {
  const answers: Record<string, number> = {};
  let attempts = 0;
  let succeeded = 0;
  return {
    async attempt(user: LineUser): Promise<void> {
      attempts += 1;
      user.booking = 'early';
      const response = await bookOne(user);
      answers[codeOf(response)] = (answers[codeOf(response)] ?? 0) + 1;
      if (response.status === 201) {
        succeeded += 1;
        user.bookedEarly = true;
        noteBooked(user, response);
      } else user.booking = 'none';
    },
    report: () => ({ attempts, succeeded, answers }),
  };
}

emitLine({ ready: true, pid: process.pid });

await serveCommands(
  {
    /** The users this process plays: `[index, userId, token, restBase, wsBase]`. */
    load: (args: { eventId: number; users: [number, number, string, string, string][] }) => {
      eventId = args.eventId;
      users = args.users.map(([index, userId, token, restBase, wsBase]) => ({
        index,
        userId,
        token,
        restBase,
        wsBase,
        socket: null,
        open: false,
        servingThrough: 0,
        ticket: 0,
        admittedAtMs: NaN,
        ticketKnownAtMs: NaN,
        booking: 'none',
        bookingCreatedAtMs: NaN,
        bookedEarly: false,
        refusals: 0,
      }));
      return { users: users.length };
    },
    /** Every user joins the line; before salesStartAt each place has no ticket yet. */
    join: (args: { lanes: number }) =>
      inLanes(users, args.lanes, async (user) => {
        const response = await apiRequest(user.restBase, 'POST', `/api/events/${eventId}/queue`, { token: user.token });
        if (response.status !== 200) throw new Error(`join answered ${codeOf(response)}`);
        const queue = response.body.queue;
        if (queue?.ticket !== null || queue?.status !== 'waiting') throw new Error(`joined before the sale with ${JSON.stringify(queue)}`);
      }),
    connect: (args: { lanes: number; timeoutMs: number }) => inLanes(users, args.lanes, (user) => openSocket(user, args.timeoutMs)),
    /** Control: the first `count` users try to book before salesStartAt. */
    'book-before-start': async (args: { count: number }) => {
      const tally = earlyTally();
      await Promise.all(users.slice(0, args.count).map((user) => tally.attempt(user)));
      return tally.report();
    },
    /** The sale's start as the server answered it, and its pace: from here progress is timed. */
    arm: (args: { salesStartAtMs: number; ratePerMinute: number; lastTicket: number }) => {
      salesStartAtMs = args.salesStartAtMs;
      stepMs = 60_000 / args.ratePerMinute;
      lastTicket = args.lastTicket;
      return null;
    },
    /**
     * After the lottery, each user asks for its place once (again while the draw is not in);
     * up to `earlyCount` of them whose turn is at least `earlyMarginMs` away then try to book
     * at once, as a control. Each books as soon as its socket says its turn came.
     */
    'learn-tickets': async (args: { lanes: number; earlyCount: number; earlyMarginMs: number }) => {
      const tally = earlyTally();
      let retries = 0;
      let earlyLeft = args.earlyCount;
      const learned = await inLanes(users, args.lanes, async (user) => {
        for (let attempt = 0; ; attempt++) {
          const response = await timed(placeRequestMs, apiRequest(user.restBase, 'GET', `/api/events/${eventId}/queue`, { token: user.token }));
          if (response.status !== 200) throw new Error(`place answered ${codeOf(response)}`);
          const queue = response.body.queue;
          if (queue?.ticket != null) {
            user.ticket = queue.ticket;
            user.admittedAtMs = Date.parse(queue.admittedAt);
            user.ticketKnownAtMs = benchClockMs();
            break;
          }
          if (attempt >= TICKET_RETRIES) throw new Error(`no ticket ${TICKET_RETRIES * TICKET_RETRY_MS} ms after salesStartAt: ${JSON.stringify(queue)}`);
          retries += 1;
          await Bun.sleep(TICKET_RETRY_MS);
        }
        if (earlyLeft > 0 && user.booking === 'none' && user.admittedAtMs - benchClockMs() >= args.earlyMarginMs) {
          earlyLeft -= 1;
          await tally.attempt(user);
        }
        maybeBook(user);
      });
      everyTicketKnown = true;
      return { ...learned, retries, early: tally.report() };
    },
    status: () => {
      const count = (state: BookingState) => users.filter((user) => user.booking === state).length;
      return { booked: count('booked'), failed: count('failed'), inFlight: count('booking') + count('early'), waiting: count('none') };
    },
    /**
     * Per user `[index, ticket, admittedAtMs, ticketKnownAtMs, bookingCreatedAtMs, bookedEarly,
     * servingThrough, refusals, open]` (NaN → null in JSON), and what the sockets received.
     */
    report: () => ({
      users: users.map((user) => [
        user.index,
        user.ticket,
        user.admittedAtMs,
        user.ticketKnownAtMs,
        user.booking === 'booked' ? user.bookingCreatedAtMs : NaN,
        user.bookedEarly,
        user.servingThrough,
        user.refusals,
        user.open,
      ]),
      progressLag: progressLag.toSparse(),
      steadyProgressLag: steadyProgressLag.toSparse(),
      midLineProgressLag: midLineProgressLag.toSparse(),
      lastTicketLag,
      progressMessages,
      progressWentBack,
      progressBeforeDue,
      seatMessages,
      placeRequestMs,
      bookingRequestMs,
      bookingFailures,
      firstFailure,
    }),
    'close-all': async () => {
      for (const user of users) user.socket?.close();
      const deadline = benchClockMs() + 5_000;
      while (users.some((user) => user.open) && benchClockMs() < deadline) await Bun.sleep(20);
      return null;
    },
  },
  async () => {
    for (const user of users) user.socket?.close();
    process.exit(0);
  },
);
