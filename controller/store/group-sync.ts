/**
 * Group commit for an fsync: callers that each need "everything I did before now is on
 * disk" share one flush. A caller arriving while a flush runs waits for the next one
 * (which starts after the running one ends, so it covers the caller's writes); callers
 * arriving while that next one waits share it.
 */
export class GroupSync {
  #running: Promise<void> | null = null;
  #next: Promise<void> | null = null;

  constructor(private readonly flush: () => Promise<void>) {}

  /** Resolves once a flush that started after this call has finished; rejects with its error. */
  request(): Promise<void> {
    if (this.#next) return this.#next;
    if (!this.#running) return this.#start();
    const next = this.#running.catch(() => undefined).then(() => {
      this.#next = null;
      return this.#start();
    });
    this.#next = next;
    return next;
  }

  #start(): Promise<void> {
    const run: Promise<void> = this.flush().finally(() => {
      if (this.#running === run) this.#running = null;
    });
    this.#running = run;
    return run;
  }
}
