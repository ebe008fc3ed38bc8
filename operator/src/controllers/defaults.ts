/**
 * Every default of the operator process (`threatmesh operator`) that is not the partner
 * exchange's (exchange/partner/defaults.ts): its flag table and the controllers read these.
 */
import { DEFAULT_VOTING_WINDOW_MS } from '../domain/entry.ts';

/** Defaults of `threatmesh operator` and the controllers it runs. */
export const OPERATOR_DEFAULTS = {
  /** /metrics, /healthz and /readyz. */
  metricsBind: '127.0.0.1:8080',
  /** The admission webhook (HTTPS). */
  webhookBind: '0.0.0.0:9443',
  /** How Feed runs execute. */
  executor: 'job',
  /** How long voting on a proposal stays open: the network's voting window. */
  votingWindowMs: DEFAULT_VOTING_WINDOW_MS,
} as const;
