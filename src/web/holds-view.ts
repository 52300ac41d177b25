/**
 * "My holds": the user's active holds, each with a countdown to its `expiresAt` that ticks every
 * second, and Confirm, Extend and Release. A countdown that reaches 0 asks the page to check with
 * the server (`expiredLocally`) once; the hold leaves the list when the page says it is over.
 */
import type { PublicHold } from './api';
import { flash, h } from './dom';
import type { ServerClock } from './server-clock';

export interface HoldsViewActions {
  confirm(holdId: number): void;
  extend(holdId: number): void;
  release(holdId: number): void;
  /** The countdown of this hold reached 0: the server decides whether it is over. */
  expiredLocally(holdId: number): void;
  eventName(eventId: number): string;
}

const TICK_MS = 1000;

const seatsWord = (count: number) => `${count} ${count === 1 ? 'seat' : 'seats'}`;

export function createHoldsView(container: HTMLElement, clock: ServerClock, actions: HoldsViewActions) {
  const holdsById = new Map<number, PublicHold>();
  /** Holds whose countdown reached 0 and were reported once. */
  const reportedAtZero = new Set<number>();
  /** Holds extended as often as the server allows: their Extend button stays disabled. */
  const extensionsUsedUp = new Set<number>();
  let ticker: ReturnType<typeof setInterval> | null = null;

  const secondsLeft = (hold: PublicHold) => Math.max(0, Math.ceil((Date.parse(hold.expiresAt) - clock.now()) / 1000));

  function row(hold: PublicHold): HTMLElement {
    const name = actions.eventName(hold.eventId);
    const seats = seatsWord(hold.quantity);
    const button = (action: string, label: string, ariaLabel: string, tone: 'primary' | 'quiet', onClick: () => void) => {
      const element = h('button', { type: 'button', class: `button button-${tone} button-small`, 'data-action': action, 'aria-label': ariaLabel }, label);
      element.addEventListener('click', onClick);
      return element;
    };
    const extendButton = button('extend-hold', 'Extend', `Extend hold #${hold.id}: ${seats} for ${name}`, 'quiet', () => actions.extend(hold.id));
    extendButton.disabled = extensionsUsedUp.has(hold.id);
    if (extendButton.disabled) extendButton.title = 'Extended as often as allowed';
    return h(
      'li',
      { class: 'hold', 'data-hold-id': hold.id, 'data-event': hold.eventId },
      h(
        'div',
        { class: 'hold-main' },
        h('span', { class: 'hold-event' }, name),
        h('span', { class: 'hold-meta' }, `${seats} held${hold.extensions > 0 ? ` · extended ${hold.extensions}×` : ''}`),
      ),
      h(
        'div',
        { class: 'hold-timer', title: `Held until ${new Date(hold.expiresAt).toLocaleTimeString()}` },
        h('span', { class: 'hold-countdown', 'data-hold-countdown': true, role: 'timer', 'aria-label': `Seconds left on hold #${hold.id}` }, String(secondsLeft(hold))),
        h('span', { class: 'hold-unit' }, 's left'),
      ),
      h(
        'div',
        { class: 'hold-actions' },
        button('confirm-hold', 'Confirm', `Confirm hold #${hold.id}: book ${seats} for ${name}`, 'primary', () => actions.confirm(hold.id)),
        extendButton,
        button('release-hold', 'Release', `Release hold #${hold.id}: ${seats} for ${name}`, 'quiet', () => actions.release(hold.id)),
      ),
    );
  }

  function list(): HTMLUListElement | null {
    return container.querySelector<HTMLUListElement>('.hold-list');
  }

  function elementOf(holdId: number): HTMLElement | null {
    return container.querySelector<HTMLElement>(`[data-hold-id="${holdId}"]`);
  }

  function showEmptyIfNone(): void {
    if (holdsById.size > 0) return;
    container.replaceChildren(h('p', { class: 'empty' }, 'No seats held. Hold seats to keep them while you decide.'));
  }

  function tick(): void {
    for (const hold of holdsById.values()) {
      const left = secondsLeft(hold);
      const element = elementOf(hold.id);
      const countdown = element?.querySelector<HTMLElement>('[data-hold-countdown]');
      if (countdown && countdown.textContent !== String(left)) countdown.textContent = String(left);
      element?.classList.toggle('is-ending', left <= 10);
      if (left === 0 && !reportedAtZero.has(hold.id)) {
        reportedAtZero.add(hold.id);
        actions.expiredLocally(hold.id);
      }
    }
    if (holdsById.size === 0) stopTicking();
  }

  function startTicking(): void {
    ticker ??= setInterval(tick, TICK_MS);
  }

  function stopTicking(): void {
    if (ticker !== null) clearInterval(ticker);
    ticker = null;
  }

  /** Adds a hold, or replaces it in place (an extension: the countdown jumps up). */
  function show(hold: PublicHold): void {
    const previous = holdsById.get(hold.id);
    holdsById.set(hold.id, hold);
    reportedAtZero.delete(hold.id);
    const element = row(hold);
    const existing = elementOf(hold.id);
    if (existing) existing.replaceWith(element);
    else {
      let holdList = list();
      if (!holdList) {
        holdList = h('ul', { class: 'hold-list' });
        container.replaceChildren(holdList);
      }
      // Newest first, as the API lists them.
      holdList.prepend(element);
    }
    if (previous && previous.expiresAt !== hold.expiresAt) flash(element.querySelector('[data-hold-countdown]')!, 'just-changed');
    tick();
    startTicking();
  }

  showEmptyIfNone();
  return {
    /** The whole list, as `GET /api/holds` gave it (newest first). */
    render(holds: PublicHold[]): void {
      holdsById.clear();
      reportedAtZero.clear();
      container.replaceChildren();
      for (const hold of [...holds].reverse()) show(hold);
      showEmptyIfNone();
      if (holds.length === 0) stopTicking();
    },
    show,
    /** Takes a hold off the list; false when it was not on it (already gone). */
    remove(holdId: number): boolean {
      if (!holdsById.delete(holdId)) return false;
      reportedAtZero.delete(holdId);
      extensionsUsedUp.delete(holdId);
      elementOf(holdId)?.remove();
      showEmptyIfNone();
      if (holdsById.size === 0) stopTicking();
      return true;
    },
    get(holdId: number): PublicHold | undefined {
      return holdsById.get(holdId);
    },
    /** The server warned that this hold is about to expire. */
    markExpiring(holdId: number, expiresAt: string): void {
      const hold = holdsById.get(holdId);
      if (!hold) return;
      if (hold.expiresAt !== expiresAt) holdsById.set(holdId, { ...hold, expiresAt });
      elementOf(holdId)?.classList.add('is-expiring');
      tick();
    },
    /** The server says the hold is still active at 0 (its seats come back within a second): the next tick reports it again. */
    reportAgainLater(holdId: number): void {
      reportedAtZero.delete(holdId);
    },
    /** The server refused another extension of this hold. */
    extensionsUsedUp(holdId: number): void {
      extensionsUsedUp.add(holdId);
      const hold = holdsById.get(holdId);
      if (hold) show(hold);
    },
    setBusy(holdId: number, busy: boolean): void {
      const element = elementOf(holdId);
      if (!element) return;
      element.classList.toggle('is-busy', busy);
      for (const button of element.querySelectorAll<HTMLButtonElement>('button')) {
        button.disabled = busy || (button.dataset.action === 'extend-hold' && extensionsUsedUp.has(holdId));
        button.setAttribute('aria-busy', String(busy));
      }
    },
  };
}

export type HoldsView = ReturnType<typeof createHoldsView>;
