/** The connection pill in the header and, while the connection is down, the banner under it. */
import type { ConnectionState, ConnectionStateChange } from '../client';

const LABELS: Record<ConnectionState, string> = {
  connecting: 'Connecting…',
  open: 'Connected',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
};

export function createConnectionIndicator(pill: HTMLElement, banner: HTMLElement, bannerText: HTMLElement) {
  const label = pill.querySelector<HTMLElement>('[data-connection-label]')!;
  return {
    show(change: Pick<ConnectionStateChange, 'state' | 'retryInMs'>, signedIn: boolean): void {
      pill.dataset.connectionState = change.state;
      // Lets the stylesheet mark seat counts as possibly out of date while not live.
      document.body.dataset.connection = change.state;
      label.textContent = change.state === 'open' ? 'Connected · live' : LABELS[change.state];
      pill.title = change.state === 'open' ? 'Seat counts update as they change' : LABELS[change.state];
      const down = signedIn && change.state === 'reconnecting';
      banner.hidden = !down;
      if (down) {
        const wait = change.retryInMs === undefined ? '' : ` Next try in ${Math.max(1, Math.ceil(change.retryInMs / 1000))} s.`;
        bannerText.textContent = `Connection lost — reconnecting by itself.${wait} Seat counts catch up as soon as it is back.`;
      }
    },
  };
}
