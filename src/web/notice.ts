/** One short message at a time about what just happened (booked, sold out, signed out…). */
const VISIBLE_MS = 6000;

export type NoticeTone = 'success' | 'error' | 'info';

export function createNotice(element: HTMLElement) {
  let hideTimer: ReturnType<typeof setTimeout> | null = null;
  return {
    show(text: string, tone: NoticeTone = 'info'): void {
      if (hideTimer) clearTimeout(hideTimer);
      element.textContent = text;
      element.dataset.tone = tone;
      element.hidden = false;
      hideTimer = setTimeout(() => {
        element.hidden = true;
        hideTimer = null;
      }, VISIBLE_MS);
    },
  };
}
