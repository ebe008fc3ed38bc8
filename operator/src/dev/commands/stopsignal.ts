/** Ctrl-C handling of the long-running local commands (`up`, `sandbox`). */

/** Resolves on the first SIGINT/SIGTERM (`aborted` turns true); a second one exits at once. */
export class StopSignal {
  aborted = false;
  readonly done: Promise<string>;
  private readonly off: () => void;

  constructor() {
    let handler: (sig: string) => void = () => undefined;
    this.done = new Promise((res) => {
      handler = (sig) => {
        // A second Ctrl-C means "now": child servers die with us (they exit when their stdin closes).
        if (this.aborted) process.exit(130);
        this.aborted = true;
        res(sig);
      };
    });
    const onInt = (): void => handler('SIGINT');
    const onTerm = (): void => handler('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    this.off = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    };
  }

  /** Removes the signal handlers. */
  dispose(): void {
    this.off();
  }
}
