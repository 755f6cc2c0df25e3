/** A confirmation dialog (the native <dialog>: focus is trapped, Escape cancels). */
import { useEffect, useRef } from 'react';

/** Asks `question`; `onAnswer(true)` on confirm, `onAnswer(false)` on cancel or Escape. */
export function Confirm(props: { question: string; confirmLabel: string; onAnswer: (yes: boolean) => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
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
