/**
 * What the partner stage of `npm run bench -- scale` spends on the replica's apply path during a
 * catch-up (issue 14, notes/issue-14-dbwrites.md): MongoDB commands and documents per collection,
 * seen through the driver's command monitoring of the bench's own client; CPU of this process
 * (the replica, the log server, the materializer's client), of FerretDB + PostgreSQL and of the
 * control plane (kube-apiserver + etcd); and how long the sink's writes were in flight.
 */
import type { MongoClient } from 'mongodb';
import { databaseCpuMs } from './proccpu.ts';

/** Commands and documents sent to one collection. */
export interface CommandCount {
  commands: number;
  docs: number;
}

/** What {@link ApplyStats.stop} returns. */
export interface ApplyStatsResult {
  /** `<command> <collection>` → commands and documents (inserted documents, update or delete statements). */
  readonly commands: Record<string, CommandCount>;
  readonly partnerCpuMs: number;
  readonly databaseCpuMs: number;
  readonly controlPlaneCpuMs: number;
  /** Wall time the sink's writes were in flight (sum over batches). */
  readonly sinkBusyMs: number;
  readonly sinkBatches: number;
}

const IGNORED = new Set(['hello', 'isMaster', 'ping', 'saslStart', 'saslContinue', 'endSessions', 'killCursors']);

/** Counts commands of a client created with `monitorCommands: true`, between start and stop. */
export class ApplyStats {
  readonly #commands: Record<string, CommandCount> = {};
  #on = false;
  #cpu0 = process.cpuUsage();
  #db0 = 0;
  #cp0 = 0;
  #busy = 0;
  #batches = 0;

  constructor(client: MongoClient) {
    client.on('commandStarted', (ev) => {
      if (!this.#on || IGNORED.has(ev.commandName)) return;
      const cmd = ev.command as Record<string, unknown>;
      const coll = typeof cmd[ev.commandName] === 'string' ? String(cmd[ev.commandName]) : '-';
      const docs = ['documents', 'updates', 'deletes'].map((k) => (Array.isArray(cmd[k]) ? (cmd[k] as unknown[]).length : 0)).reduce((a, b) => a + b, 0);
      const c = (this.#commands[`${ev.commandName} ${coll}`] ??= { commands: 0, docs: 0 });
      c.commands += 1;
      c.docs += docs;
    });
  }

  start(): void {
    this.#on = true;
    this.#cpu0 = process.cpuUsage();
    this.#db0 = databaseCpuMs() ?? 0;
    this.#cp0 = databaseCpuMs(process.pid, ['threatmesh-cont', 'kube-apiserver', 'etcd']) ?? 0;
  }

  /** Wraps one sink write, adding its wall time. */
  async timed<T>(write: () => Promise<T>): Promise<T> {
    const t = performance.now();
    try {
      return await write();
    } finally {
      this.#busy += performance.now() - t;
      this.#batches += 1;
    }
  }

  stop(): ApplyStatsResult {
    this.#on = false;
    const cpu = process.cpuUsage(this.#cpu0);
    return {
      commands: { ...this.#commands }, partnerCpuMs: (cpu.user + cpu.system) / 1000, databaseCpuMs: (databaseCpuMs() ?? 0) - this.#db0,
      controlPlaneCpuMs: (databaseCpuMs(process.pid, ['threatmesh-cont', 'kube-apiserver', 'etcd']) ?? 0) - this.#cp0, sinkBusyMs: this.#busy, sinkBatches: this.#batches,
    };
  }
}
