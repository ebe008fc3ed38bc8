/**
 * An EventRecorder writing core/v1 Events. Repeats of the same (object, type, reason, message)
 * bump `count` and `lastTimestamp` on the existing Event instead of creating a new one, as
 * client-go's event correlator does. Failing to record an Event is logged, never thrown: events
 * are advisory and must not fail a reconcile.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.ts';
import type { KubeWriter } from './client.ts';
import { EVENTS, type Event } from './kinds.ts';
import type { EventRecorder, KubeObject } from './types.ts';

/** The core/v1 events resource. */
export const eventsResource = EVENTS;

/** Options of a KubeEventRecorder. */
export interface EventRecorderOptions {
  readonly writer: KubeWriter;
  readonly log: Logger;
  /** source.component / reportingComponent, e.g. 'threatmesh-operator'. */
  readonly component: string;
  /** reportingInstance, e.g. the pod name. @default component */
  readonly instance?: string;
  readonly now?: () => Date;
  /** How many distinct events are remembered for counting repeats. @default 4096 */
  readonly cacheSize?: number;
}

interface Seen {
  name: string;
  namespace: string;
  count: number;
}

/** Records Events about objects through the API server. */
export class KubeEventRecorder implements EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly seen = new Map<string, Seen>();

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
  }

  async event(obj: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const key = [obj.metadata.uid ?? obj.metadata.name, obj.metadata.namespace ?? '', type, reason, message].join('\u0000');
    const now = (this.opts.now ?? (() => new Date()))().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      const prior = this.seen.get(key);
      if (prior && (await this.bump(prior, now))) return;
      await this.create(key, obj, { type, reason, message }, now);
    } catch (err) {
      this.opts.log.warn('could not record event', { reason, object: obj.metadata.name, kind: obj.kind, err });
    }
  }

  private async bump(prior: Seen, now: string): Promise<boolean> {
    try {
      prior.count += 1;
      await this.opts.writer.patch(eventsResource, prior.name, prior.namespace, { count: prior.count, lastTimestamp: now });
      return true;
    } catch {
      // The Event expired (TTL) or was deleted: start a fresh one.
      return false;
    }
  }

  private async create(key: string, obj: KubeObject, what: { type: string; reason: string; message: string }, now: string): Promise<void> {
    const { type, reason, message } = what;
    const namespace = obj.metadata.namespace ?? 'default';
    const name = `${obj.metadata.name}.${Date.parse(now).toString(16)}${randomBytes(4).toString('hex')}`;
    const component = this.opts.component;
    const ev: Event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion, kind: obj.kind, name: obj.metadata.name, namespace: obj.metadata.namespace,
        uid: obj.metadata.uid, resourceVersion: obj.metadata.resourceVersion,
      },
      reason, message: message.slice(0, 1024), type, count: 1,
      firstTimestamp: now, lastTimestamp: now,
      source: { component },
      reportingComponent: component, reportingInstance: this.opts.instance ?? component,
    };
    await this.opts.writer.create(eventsResource, ev);
    this.remember(key, { name, namespace, count: 1 });
  }

  private remember(key: string, s: Seen): void {
    this.seen.delete(key);
    this.seen.set(key, s);
    const max = this.opts.cacheSize ?? 4096;
    while (this.seen.size > max) {
      const oldest = this.seen.keys().next().value;
      if (oldest === undefined) break;
      this.seen.delete(oldest);
    }
  }
}
