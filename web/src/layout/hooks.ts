/** Small hooks the pages share. */
import { useCallback, useEffect, useState } from 'react';

/** The result of loading something: the value, the error's sentence, and a way to load it again. */
export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  reload: () => void;
}

/** Calls `load` on mount and whenever `reload` is called; `deps` restart it. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (v) => live && (setData(v), setError(null)),
      (err: unknown) => live && setError(errorText(err)),
    );
    return () => {
      live = false;
    };
  }, [...deps, n]);
  const reload = useCallback(() => setN((x) => x + 1), []);
  return { data, error, reload };
}

/** The sentence to show for an error. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Runs an action, keeping its error sentence and whether it is running; returns whether it succeeded. */
export function useAction(): { busy: boolean; error: string | null; run: (fn: () => Promise<unknown>) => Promise<boolean>; clear: () => void } {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const run = useCallback(async (fn: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(errorText(err));
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, run, clear: useCallback(() => setError(null), []) };
}
