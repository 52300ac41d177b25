/** The raw WebSocket panel: every server message as it arrives, newest on top, plus connection changes. */
import { h } from './dom';

const MAX_ENTRIES = 80;

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });

export function createMessageLog(list: HTMLOListElement) {
  function add(entry: HTMLLIElement): void {
    list.querySelector('[data-empty]')?.remove();
    list.prepend(entry);
    while (list.children.length > MAX_ENTRIES) list.lastElementChild?.remove();
  }

  function clear(): void {
    list.replaceChildren(h('li', { class: 'log-empty', 'data-empty': true }, 'Messages from the server appear here as they arrive.'));
  }

  clear();
  return {
    message(type: string, rawText: string): void {
      add(h('li', { class: `log-entry log-${type}` }, h('time', {}, clock.format(new Date())), h('code', {}, rawText)));
    },
    note(text: string): void {
      add(h('li', { class: 'log-entry log-note' }, h('time', {}, clock.format(new Date())), h('span', {}, text)));
    },
    clear,
  };
}
