/**
 * The operator's terms of leadership in one process (docs/adr/2026-12-07-exchange-start-across-terms.md).
 * A term is one Manager (runtime/manager.ts): informers, controllers and, on the leader, the
 * runnables. When a term loses the Lease and every runnable stopped within the shutdown deadline,
 * a new term campaigns in the same process, from new informers and controllers (a clean
 * candidate, as after a restart) but with what outlasts a term (`processScoped`: the partner
 * exchange's preparation, whose finished steps the next term does not redo). A term whose
 * runnables were cut off or are still running ends the process instead, as controller-runtime
 * does on every loss: their leader work must not overlap a next term. Before the first term the
 * process prepares what is safe while another replica leads (`processScoped.standBy`,
 * docs/adr/2026-12-07-standby-preparation.md).
 */
import type { Logger } from '../log.ts';
import { startOperator, type OperatorOptions, type RunningOperator } from '../controllers/setup.ts';

interface TermEnd {
  readonly why: string;
  /** A new term may follow in this process. */
  readonly again: boolean;
}

/**
 * Runs the operator from `opts`, term after term (see the file header), until `stopped` resolves
 * (a signal, an exchange that cannot start) or a term ends in a way no new term may follow; stops
 * the last term and returns why it stopped. `start` builds a term. @default startOperator
 */
export async function runTerms(opts: OperatorOptions, stopped: Promise<string>, log: Logger, start: (o: OperatorOptions) => Promise<RunningOperator> = startOperator): Promise<string> {
  let signalled: string | undefined;
  void stopped.then((why) => { signalled = why; });
  // A standby prepares what needs no leadership while it campaigns, so a failover runs only the rest.
  void opts.processScoped?.standBy?.();
  for (let term = 1; ; term++) {
    let running: RunningOperator | undefined;
    const ended = new Promise<TermEnd>((res) => {
      void start({ ...opts, onLostLeadership: ({ clean }) => res({ why: 'lost leadership', again: clean }) }).then(
        (r) => { running = r; },
        (err: unknown) => res({ why: `start failed: ${err instanceof Error ? err.message : String(err)}`, again: false }),
      );
    });
    const end = await Promise.race([stopped.then((why): TermEnd => ({ why, again: false })), ended]);
    if (!end.again || signalled !== undefined) {
      log.info('stopping', { why: signalled ?? end.why, term });
      // A term that never started has nothing to stop but what outlasts it.
      if (running !== undefined) await running.stop();
      else await opts.processScoped?.close();
      return signalled ?? end.why;
    }
    log.warn('lost leadership; every runnable stopped in time, so this process campaigns again (what the partner exchange prepared is kept)', { term });
    await running?.stop({ nextTerm: true });
    if (signalled !== undefined) {
      log.info('stopping', { why: signalled, term });
      await opts.processScoped?.close();
      return signalled;
    }
  }
}
