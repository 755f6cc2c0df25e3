/** A token shown once, right after it was made. */
export function Secret(props: { label: string; value: string }) {
  return (
    <div role="status">
      <p>{props.label} (shown once; copy it now):</p>
      <p className="secret" aria-label={props.label}>
        {props.value}
      </p>
    </div>
  );
}
