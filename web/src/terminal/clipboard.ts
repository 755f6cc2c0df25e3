/**
 * Copy and paste keys of a browser terminal. Ctrl+C and Ctrl+V belong to the shell (interrupt,
 * literal next), so the terminal takes Ctrl+Shift+C / Ctrl+Shift+V, as desktop terminals do, and
 * Ctrl+Insert / Shift+Insert. The browser's own copy and paste (menu, Cmd+C/V) work through xterm's
 * clipboard events.
 */
import type { Terminal } from '@xterm/xterm';

/** True for the key that copies the selection. */
function isCopy(e: KeyboardEvent): boolean {
  return (e.ctrlKey && e.shiftKey && !e.altKey && e.code === 'KeyC') || (e.ctrlKey && !e.shiftKey && e.code === 'Insert');
}

/** True for the key that pastes. */
function isPaste(e: KeyboardEvent): boolean {
  return (e.ctrlKey && e.shiftKey && !e.altKey && e.code === 'KeyV') || (e.shiftKey && !e.ctrlKey && e.code === 'Insert');
}

/** Puts text on the clipboard: the async API where the page may use it, else the copy command on the focused terminal (xterm answers its copy event with the selection). */
async function writeClipboard(text: string): Promise<void> {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Permission refused: fall back to the copy command below.
    }
  }
  document.execCommand('copy');
}

/**
 * Installs the copy and paste keys on a terminal. A paste key is left to the browser rather than
 * sent to the shell as ^V: its paste event needs no clipboard permission.
 */
export function installClipboardKeys(term: Terminal): void {
  term.attachCustomKeyEventHandler((e) => {
    if (isCopy(e)) {
      if (e.type === 'keydown' && term.hasSelection()) {
        e.preventDefault();
        void writeClipboard(term.getSelection());
      }
      return false;
    }
    // No preventDefault: the browser then pastes into xterm's text area, and xterm sends the text (bracketed when the shell asks).
    if (isPaste(e)) return false;
    return true;
  });
}
