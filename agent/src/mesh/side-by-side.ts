// Trying friends side by side for one thing wanted from several of them (a pack wanted at
// `replicas` friends): as many attempts at once as copies are still missing, and a failed one is
// replaced by the next candidate at once. Tried one after another, a friend that stalls until its
// deadline held up every friend after it in the order (a hostile friend that grants the most is
// first for every pack); side by side, it delays only its own attempt.

/**
 * Runs `attempt` on `candidates` in order, keeping at most `missing()` attempts in flight (read
 * again whenever one ends: a success lowers it, a failure leaves a slot for the next candidate),
 * until nothing is missing or every candidate was tried. `attempt` reports its outcome through
 * whatever `missing` reads; if one throws, the others still finish, then the first error is thrown.
 */
export async function trySideBySide<T>(candidates: readonly T[], missing: () => number, attempt: (candidate: T) => Promise<void>): Promise<void> {
  let next = 0;
  let inFlight = 0;
  let failure: { err: unknown } | null = null;
  await new Promise<void>((resolve) => {
    const pump = () => {
      while (failure === null && next < candidates.length && inFlight < missing()) {
        const c = candidates[next++] as T;
        inFlight += 1;
        attempt(c)
          .catch((err: unknown) => {
            failure ??= { err };
          })
          .finally(() => {
            inFlight -= 1;
            pump();
          });
      }
      if (inFlight === 0) resolve();
    };
    pump();
  });
  if (failure !== null) throw (failure as { err: unknown }).err;
}
