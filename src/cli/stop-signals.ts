/**
 * Ctrl-C and SIGTERM for the long-running commands (`dev`, `worker`, `demo --keep`). The
 * listeners stay registered until the command has stopped everything it started: execa (through
 * signal-exit) re-raises a signal that it sees no other listener for, so a handler that removed
 * itself on the first SIGTERM let `pgferry dev` die mid-copy with its Temporal server still
 * listening and a psql still running.
 */

export interface StopSignals {
  /** Resolves with the first SIGINT or SIGTERM. */
  received: Promise<NodeJS.Signals>;
  /** Stops listening: call once everything is stopped. */
  release(): void;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Listens for SIGINT and SIGTERM; a repeated signal is reported, never fatal, until release(). */
export function listenForStop(onRepeat: (signal: NodeJS.Signals) => void = () => undefined): StopSignals {
  let first: NodeJS.Signals | undefined;
  let resolve: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((done) => (resolve = done));
  const onSignal = (signal: NodeJS.Signals) => {
    if (first) return onRepeat(signal);
    first = signal;
    resolve(signal);
  };
  for (const signal of SIGNALS) process.on(signal, onSignal);
  return {
    received,
    release: () => {
      for (const signal of SIGNALS) process.off(signal, onSignal);
    },
  };
}
