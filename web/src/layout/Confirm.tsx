/** A confirmation dialog (the native <dialog>: focus stays inside, Escape cancels). */
import { useEffect, useRef } from 'react';

/** Asks `question`; `onAnswer(true)` on confirm, `onAnswer(false)` on cancel or Escape. Focus goes back to where it was. */
export function Confirm(props: { question: string; confirmLabel: string; onAnswer: (yes: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    const before = document.activeElement;
    if (d && !d.open) d.showModal();
    // The dialog is removed, not closed; without this the keyboard user would start again from the top.
    return () => {
      if (before instanceof HTMLElement && before.isConnected) before.focus();
    };
  }, []);
  return (
    <dialog ref={ref} className="confirm" aria-labelledby="confirm-q" onCancel={() => props.onAnswer(false)}>
      <p id="confirm-q">{props.question}</p>
      <div className="row">
        <button type="button" onClick={() => props.onAnswer(false)} autoFocus>
          Cancel
        </button>
        <button type="button" className="danger" onClick={() => props.onAnswer(true)}>
          {props.confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
