/** Small building blocks the pages share: a labelled text field, an error line, a table with its header row. */
import type { InputHTMLAttributes, ReactNode } from 'react';

/** A text input inside its label (so it is named for screen readers and clickable by its text). */
export function Field(props: { label: string; value: string; onChange: (v: string) => void } & Omit<InputHTMLAttributes<HTMLInputElement>, 'value' | 'onChange'>) {
  const { label, value, onChange, ...rest } = props;
  return (
    <label>
      {label}
      <input value={value} onChange={(e) => onChange(e.target.value)} {...rest} />
    </label>
  );
}

/** An error sentence, announced to screen readers; nothing when there is none. */
export function ErrorLine(props: { error: string | null | undefined; id?: string }) {
  if (!props.error) return null;
  return (
    <p role="alert" className="error" id={props.id}>
      {props.error}
    </p>
  );
}

/** A table named `label` with one header cell per column; an empty column name is an actions column. */
export function Table(props: { label: string; columns: string[]; children: ReactNode }) {
  return (
    <table aria-label={props.label}>
      <thead>
        <tr>
          {props.columns.map((c, i) => (
            <th key={i}>{c || <span className="visually-hidden">Actions</span>}</th>
          ))}
        </tr>
      </thead>
      <tbody>{props.children}</tbody>
    </table>
  );
}
