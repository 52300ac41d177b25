/**
 * An event's waiting line on its card (SPEC §6, §9): Join line; before the sale, when it opens and
 * that places are drawn then; while waiting, the live place; at the caller's turn, "Your turn"
 * with the admission's countdown; after it, Rejoin. Times run on the server's clock. The moment
 * the server's answer is due to change (sales open, the turn comes, the admission ends) is
 * reported once (`due`): the page asks the server, and this view shows what it says.
 */
import type { PublicEvent, PublicQueueEntry } from './api';
import { flash, h } from './dom';
import type { ServerClock } from './server-clock';

export type LineEvent = Pick<PublicEvent, 'id' | 'name' | 'salesStartAt' | 'queueRatePerMinute'>;

export type LinePhase = 'out' | 'drawing' | 'waiting' | 'admitted' | 'expired';

export interface LineState {
  /** The caller's place as the server last answered; null when not in line. */
  queue: PublicQueueEntry | null;
  /** ticket − servingThrough from the live line progress; null while either is unknown. */
  livePosition: number | null;
  busy: boolean;
}

export interface WaitingRoomViewActions {
  join(eventId: number): void;
  leave(eventId: number): void;
  rejoin(eventId: number): void;
  /** The server's answer is due to change now (see `dueAt`): ask it. */
  due(eventId: number): void;
}

interface ShownLine {
  event: LineEvent;
  slot: HTMLElement;
  state: LineState;
  /** The moment last reported as due: each moment is reported once. */
  reportedDue: string | null;
  /** What the panel was built for: while it stays, only the place's text changes (a button is not replaced under a click). */
  builtFor: string;
}

const TICK_MS = 1000;

const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: 'short', day: 'numeric', month: 'short' });
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** A sale's opening: the time alone today, with the day otherwise. */
export function saleTime(iso: string): string {
  const at = new Date(iso);
  const today = at.toDateString() === new Date().toDateString();
  return today ? `at ${timeFormat.format(at)}` : `on ${dayFormat.format(at)} at ${timeFormat.format(at)}`;
}

export const durationText = (seconds: number) => (seconds >= 60 ? `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')} min` : `${seconds} s`);

export function phaseOf({ queue, livePosition }: Pick<LineState, 'queue' | 'livePosition'>): LinePhase {
  if (!queue) return 'out';
  if (queue.status === 'expired') return 'expired';
  // The live progress says the turn came before the next answer does.
  if (queue.status === 'admitted' || (queue.ticket !== null && livePosition === 0)) return 'admitted';
  return queue.ticket === null ? 'drawing' : 'waiting';
}

/** The place while waiting: places only go down, so the nearer of the server's answer and the live one is the newer. */
function placeOf({ queue, livePosition }: LineState): number | null {
  const answered = queue?.position ?? null;
  if (answered === null || livePosition === null) return answered ?? livePosition;
  return Math.min(answered, livePosition);
}

/** The place's text: the number while waiting, `admitted` at the caller's turn, empty otherwise. */
function positionText(state: LineState): string {
  const phase = phaseOf(state);
  const place = placeOf(state);
  return phase === 'admitted' ? 'admitted' : phase === 'waiting' && place !== null ? String(place) : '';
}

/** When the server's answer is due to change; null when it is not (out of line, expired). */
function dueAt(event: LineEvent, state: LineState): string | null {
  const phase = phaseOf(state);
  if (phase === 'drawing') return event.salesStartAt;
  if (phase === 'waiting') return state.queue?.admittedAt ?? null;
  if (phase === 'admitted') return state.queue?.admissionExpiresAt ?? null;
  return null;
}

export function createWaitingRoomView(clock: ServerClock, actions: WaitingRoomViewActions) {
  const lines = new Map<number, ShownLine>();
  let ticker: ReturnType<typeof setInterval> | null = null;

  const secondsUntil = (iso: string) => Math.max(0, Math.ceil((Date.parse(iso) - clock.now()) / 1000));
  const salesOpen = (event: LineEvent) => event.salesStartAt === null || Date.parse(event.salesStartAt) <= clock.now();
  /** What the panel's build depends on besides the place's text and the countdowns. */
  const buildKey = (event: LineEvent, state: LineState) => `${phaseOf(state)}|${state.busy}|${positionText(state) === ''}|${salesOpen(event)}`;

  function button(action: string, label: string, ariaLabel: string, tone: 'primary' | 'quiet', busy: boolean, onClick: () => void): HTMLButtonElement {
    const element = h('button', { type: 'button', class: `button button-${tone} button-small`, 'data-action': action, 'aria-label': ariaLabel, 'aria-busy': String(busy) }, label);
    element.disabled = busy;
    element.addEventListener('click', onClick);
    return element;
  }

  /** The line's words for its phase; the parts that move with the clock are filled in by `tick`. */
  function panel({ event, state }: ShownLine): HTMLElement {
    const phase = phaseOf(state);
    const { id, name } = event;
    const position = positionText(state);
    const label = { out: 'Waiting room', drawing: 'You’re in line', waiting: 'Your place in line', admitted: 'Your turn', expired: 'Your turn has ended' }[phase];
    const leave = () => button('leave-queue', 'Leave line', `Leave the line for ${name}`, 'quiet', state.busy, () => actions.leave(id));
    const salesCountdown = h('span', { 'data-sales-countdown': true });

    let note: HTMLElement;
    let action: HTMLButtonElement | null = null;
    if (phase === 'out') {
      const opensAt = salesOpen(event) ? null : event.salesStartAt;
      note =
        opensAt === null
          ? h('p', { class: 'line-note' }, 'Seats sell through a line: join it, and book when your turn comes.')
          : h('p', { class: 'line-note' }, `Sales open ${saleTime(opensAt)} (`, salesCountdown, '). Join now: places are drawn by lottery then.');
      action = button('join-queue', 'Join line', `Join the line for ${name}`, 'primary', state.busy, () => actions.join(id));
    } else if (phase === 'drawing') {
      note = h('p', { class: 'line-note', 'data-drawing-note': true });
      action = leave();
    } else if (phase === 'waiting') {
      note = h('p', { class: 'line-note' }, 'About ', h('span', { 'data-wait-countdown': true }), ' to your turn.');
      action = leave();
    } else if (phase === 'admitted') {
      note = h(
        'p',
        { class: 'line-note' },
        'Book or hold now: ',
        h('strong', { class: 'line-countdown', 'data-admission-countdown': true, role: 'timer', 'aria-label': `Seconds left of your turn for ${name}` }),
        ' s left.',
      );
    } else {
      note = h('p', { class: 'line-note' }, 'Your time to book ran out. Rejoin the line for a new turn, at its back.');
      action = button('rejoin-queue', 'Rejoin line', `Rejoin the line for ${name}`, 'primary', state.busy, () => actions.rejoin(id));
    }
    return h(
      'section',
      { class: `line line-${phase}`, 'data-queue-status': phase, 'aria-label': `Waiting line for ${name}` },
      h(
        'div',
        { class: 'line-head' },
        h('span', { class: 'line-label' }, label),
        h('span', { class: 'line-position', 'data-queue-position': true, 'aria-live': 'polite', hidden: position === '' }, position),
      ),
      note,
      action && h('div', { class: 'line-actions' }, action),
    );
  }

  /** Builds the panel again when its phase (or the sale's opening) changed; otherwise only the place's text moves. */
  function paint(line: ShownLine): void {
    const position = () => line.slot.querySelector<HTMLElement>('[data-queue-position]');
    const before = position()?.textContent ?? '';
    const key = buildKey(line.event, line.state);
    if (key !== line.builtFor) {
      line.builtFor = key;
      line.slot.replaceChildren(panel(line));
    }
    const shown = position();
    const text = positionText(line.state);
    if (!shown) return;
    if (shown.textContent !== text) shown.textContent = text;
    if (text !== before && text !== '') flash(shown, 'just-changed');
  }

  /** The parts that move with the clock, and the due moment, reported once. */
  function tick(): void {
    for (const line of lines.values()) {
      paint(line);
      const { event, state, slot } = line;
      const { queue } = state;
      const text = (selector: string, value: string) => {
        const element = slot.querySelector<HTMLElement>(selector);
        if (element && element.textContent !== value) element.textContent = value;
      };
      if (event.salesStartAt) text('[data-sales-countdown]', `in ${durationText(secondsUntil(event.salesStartAt))}`);
      text(
        '[data-drawing-note]',
        salesOpen(event) || !event.salesStartAt ? 'Sales are open: drawing places…' : `Your place is drawn by lottery when sales open ${saleTime(event.salesStartAt)} (in ${durationText(secondsUntil(event.salesStartAt))}).`,
      );
      if (queue?.admittedAt) text('[data-wait-countdown]', durationText(Math.max(1, secondsUntil(queue.admittedAt))));
      if (queue?.admissionExpiresAt) text('[data-admission-countdown]', String(secondsUntil(queue.admissionExpiresAt)));
      slot.querySelector('.line')?.classList.toggle('is-ending', phaseOf(state) === 'admitted' && !!queue?.admissionExpiresAt && secondsUntil(queue.admissionExpiresAt) <= 30);

      const moment = dueAt(event, state);
      if (moment !== null && moment !== line.reportedDue && Date.parse(moment) <= clock.now()) {
        line.reportedDue = moment;
        actions.due(event.id);
      }
    }
  }

  function startTicking(): void {
    ticker ??= setInterval(tick, TICK_MS);
  }

  function stopTicking(): void {
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
  }

  return {
    /** Lines for these events, each in its slot, nobody in them yet. */
    render(entries: { event: LineEvent; slot: HTMLElement }[]): void {
      lines.clear();
      for (const { event, slot } of entries) {
        const line: ShownLine = { event, slot, state: { queue: null, livePosition: null, busy: false }, reportedDue: null, builtFor: '' };
        lines.set(event.id, line);
        paint(line);
      }
      tick();
      if (lines.size > 0) startTicking();
      else stopTicking();
    },
    show(eventId: number, state: LineState): void {
      const line = lines.get(eventId);
      if (!line) return;
      line.state = state;
      tick();
    },
    get(eventId: number): { event: LineEvent; state: LineState } | undefined {
      const line = lines.get(eventId);
      return line && { event: line.event, state: line.state };
    },
    eventIds: () => [...lines.keys()],
    clear(): void {
      lines.clear();
      stopTicking();
    },
  };
}

export type WaitingRoomView = ReturnType<typeof createWaitingRoomView>;
