import { useCallback, useEffect, useState } from 'preact/hooks';

/** Loads data (again every `everyMs` when given); returns the data, the error, and a reload. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs?: number): { data: T | undefined; error: string; reload: () => void } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const reload = useCallback(() => {
    load().then(
      (d) => {
        setData(d);
        setError('');
      },
      (err: unknown) => setError((err as Error).message),
    );
  }, deps);
  useEffect(() => {
    reload();
    if (!everyMs) return;
    const t = setInterval(reload, everyMs);
    return () => clearInterval(t);
  }, [reload]);
  return { data, error, reload };
}
