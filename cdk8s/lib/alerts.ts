/**
 * The PrometheusRule alerts and the dashboard's panels as data: one place for every PromQL
 * expression, so promtool checks them all and the metrics tests find every metric they use on
 * the real processes' /metrics (the operator's and sequencer's in the network journey; the replica
 * API's and the API server's in e2e/integration/replica-api.test.ts).
 */
import { REPLICA_APISERVICE_NAME } from '../../operator/src/api/replicaapiservice.ts';

/** One alerting rule. */
export interface Alert {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly severity: 'warning' | 'critical';
  readonly summary: string;
  readonly description: string;
}


/** The 99th percentile latency of successful replica API requests of `verb`, per namespace. */
function p99(verb: 'get' | 'list'): string {
  return `histogram_quantile(0.99, sum by (namespace, verb, le) (rate(threatmesh_replica_api_request_duration_seconds_bucket{resource="threatindicators",verb="${verb}",code=~"2.."}[10m])))`;
}

/** Every alert of the ThreatMesh PrometheusRule. */
export const ALERTS: readonly Alert[] = [
  { alert: 'ThreatMeshReplicationHalted', expr: 'max by (namespace, pod, reason) (threatmesh_exchange_halted) > 0', for: '1m', severity: 'critical',
    summary: 'A partner stopped replicating the sequencer log', description: 'Replication halted ({{ $labels.reason }}): the log failed verification. Investigate, then `threatmesh replica clear-halt`.' },
  { alert: 'ThreatMeshSequencerSilent', expr: 'max by (namespace, pod) (threatmesh_exchange_sequencer_head_age_seconds) > 300', for: '5m', severity: 'critical',
    summary: 'No fresh signed tree head from the sequencer', description: 'The newest tree head is {{ $value }} s old: the sequencer stopped signing heads (it signs one every minute) or cannot be reached, so new entries may be withheld. See the HeadFresh condition of the sequencer PartnerNode.' },
  { alert: 'ThreatMeshEquivocationSuspected', expr: 'max by (namespace, pod, peer) (threatmesh_exchange_equivocation_suspected) > 0', for: '10m', severity: 'critical',
    summary: 'Two partners may have been shown different logs', description: 'The sequencer refused the consistency proof between this partner\'s head and {{ $labels.peer }}\'s, and nothing else settled it. See the HeadsAgree condition of the peer\'s PartnerNode.' },
  { alert: 'ThreatMeshSequencerMisbehaviour', expr: 'sum by (namespace, reason) (increase(threatmesh_exchange_sequencer_misbehaviour_total[15m])) > 0', for: '0m', severity: 'critical',
    summary: 'The sequencer was caught misbehaving', description: 'A partner caught the sequencer ({{ $labels.reason }}): see the SequencerMisbehaviour Events on the sequencer PartnerNode.' },
  { alert: 'ThreatMeshDecisionWithheld', expr: 'sum by (namespace) (increase(threatmesh_exchange_missing_decisions_total{evidence="acknowledged"}[1h])) > 0', for: '0m', severity: 'critical',
    summary: 'The sequencer withholds a decision it announced', description: 'The sequencer answered a partner\'s vote with a decision (admitted or rejected) that a tree head it signed later does not carry: censorship. See the MissingDecision Events on the sequencer PartnerNode and docs/trust-model.md "Missing decisions".' },
  { alert: 'ThreatMeshDecisionMissing', expr: 'sum by (namespace) (increase(threatmesh_exchange_missing_decisions_total{evidence="unacknowledged"}[6h])) > 0', for: '0m', severity: 'warning',
    summary: 'A voted round closed without a logged decision', description: 'A round this partner voted on closed without an ADD or REJECT entry: it expired for lack of votes, or the sequencer withheld the decision. Ask the round\'s other voters; see the MissingDecision Events on the sequencer PartnerNode.' },
  { alert: 'ThreatMeshBadPeerHeads', expr: 'sum by (namespace, peer) (increase(threatmesh_exchange_bad_peer_heads_total[15m])) > 0', for: '0m', severity: 'warning',
    summary: 'A peer gossips tree heads the sequencer did not sign', description: 'Peer {{ $labels.peer }} gossips forged heads; replication goes on. See the HeadsAgree condition of its PartnerNode.' },
  { alert: 'ThreatMeshUnmaterialized', expr: 'sum by (namespace) (increase(threatmesh_exchange_unmaterialized_total[1h])) > 0', for: '0m', severity: 'warning',
    summary: 'Verified entries could not be written as ThreatIndicators', description: 'The API server refused verified entries (kept in the partner database): see the Materialized condition of the sequencer PartnerNode.' },
  { alert: 'ThreatMeshReplicationLag', expr: 'max by (namespace) (threatmesh_exchange_lag_entries) > 100', for: '15m', severity: 'warning',
    summary: 'A partner lags behind the sequencer log', description: '{{ $value }} log entries are not applied yet in {{ $labels.namespace }}.' },
  { alert: 'ThreatMeshRoundsExpiring', expr: 'min by (namespace) (min_over_time(threatmesh_sequencer_pending_rounds[24h])) > 0', for: '1h', severity: 'warning',
    summary: 'Voting rounds wait for votes for a day', description: 'Rounds have been open for 24h without reaching quorum; they are rejected when the voting window closes. Ask the partners\' analysts to vote.' },
  { alert: 'ThreatMeshSequencerNotServing', expr: 'max by (namespace) (threatmesh_sequencer_serving) == 0', for: '5m', severity: 'critical',
    summary: 'No sequencer replica serves', description: 'No replica holds the sequencer Lease: partners cannot propose or replicate.' },
  { alert: 'ThreatMeshFeedFailing', expr: 'sum by (namespace) (threatmesh_feeds{state="failing"}) > 0', for: '30m', severity: 'warning',
    summary: 'Feeds fail to ingest', description: '{{ $value }} Feeds failed their last runs: see `kubectl get feeds` and the Feed status conditions.' },
  { alert: 'ThreatMeshWebhookErrors', expr: 'sum by (namespace) (rate(controller_runtime_webhook_requests_total{code=~"5.."}[5m])) > 0', for: '10m', severity: 'warning',
    summary: 'The admission webhook answers with errors', description: 'ThreatIndicator writes fail while the webhook errs (failurePolicy Fail).' },
  { alert: 'ThreatMeshReportModelFallback', expr: 'sum by (namespace) (increase(threatmesh_report_summaries_total{generator="extractive",reason=~"model-error|grounding|invalid-answer"}[6h])) > 0', for: '0m', severity: 'warning',
    summary: 'Executive summaries fall back to the extractive one', description: 'The model endpoint failed or every answer was refused by the grounding check: see `kubectl describe threatreport` (condition Degraded, ModelFallback) and threatmesh_llm_requests_total by outcome.' },
  { alert: 'ThreatMeshReplicaApiUnavailable', expr: `max by (name) (aggregator_unavailable_apiservice{name="${REPLICA_APISERVICE_NAME}"}) > 0`, for: '5m', severity: 'critical',
    summary: 'The aggregated replica API is unavailable', description: 'The API server marks APIService {{ $labels.name }} unavailable: `kubectl get threatindicators` fails and namespace deletion waits; `kubectl get ti` (the working set) still works. See `kubectl get apiservice {{ $labels.name }}` (its Available condition says why) and docs/deploy.md "Replica API metrics and alerts".' },
  { alert: 'ThreatMeshReplicaApiErrors', expr: 'sum by (namespace) (rate(threatmesh_replica_api_requests_total{code=~"5.."}[5m])) / sum by (namespace) (rate(threatmesh_replica_api_requests_total[5m])) > 0.05', for: '10m', severity: 'warning',
    summary: 'The replica API fails reads', description: 'More than 5 % of replica API requests in {{ $labels.namespace }} answer 5xx: the partner database cannot be read or the API server cannot be asked (SubjectAccessReview). See threatmesh_replica_api_database_errors_total and _authorization_total{decision="error"}, and the replica-api logs.' },
  { alert: 'ThreatMeshReplicaApiSlow', expr: `${p99('get')} > 1 or ${p99('list')} > 5`, for: '15m', severity: 'warning',
    summary: 'Replica API reads are slower than their objective', description: 'The 99th percentile of {{ $labels.verb }} in {{ $labels.namespace }} is {{ $value | humanize }} s (objective: get 1 s, a list page 5 s): kubectl waits, and the API server\'s request timeout is 60 s by default. Check the partner database and smaller pages (--chunk-size).' },
  { alert: 'ThreatMeshReplicaApiDatabaseUnreachable', expr: 'min by (namespace, pod) (threatmesh_replica_api_database_up) == 0', for: '5m', severity: 'warning',
    summary: 'A replica API pod gets no answer from the partner database', description: 'Pod {{ $labels.pod }} in {{ $labels.namespace }} has had no answer to its database ping: its reads answer 500. A pod that never reached the database stays out of the Service (/readyz); the others keep serving errors so the APIService stays registered. See the pod\'s log (partner database did not answer a ping), its MONGODB_URI and the MongoDB pods.' },
  { alert: 'ThreatMeshReplicaApiCallersRefused', expr: 'sum by (namespace, result) (rate(threatmesh_replica_api_authentication_total{result!="success"}[5m])) > 0', for: '10m', severity: 'warning',
    summary: 'The replica API refuses callers that are not the front proxy', description: 'Requests refused 401 ({{ $labels.result }}): a client calls the replica API directly (the network policy should not allow it), or the API server\'s front-proxy CA or name changed and the server did not take it (it reloads extension-apiserver-authentication on change: check threatmesh_replica_api_front_proxy_trust_reloads_total and its log; a refused ConfigMap keeps the old trust).' },
  { alert: 'ThreatMeshReconcileErrors', expr: 'sum by (namespace, controller) (rate(controller_runtime_reconcile_errors_total[10m])) > 0.1', for: '15m', severity: 'warning',
    summary: 'A controller keeps failing', description: 'Controller {{ $labels.controller }} fails reconciles: see the operator logs.' },
];

/**
 * The dashboard row of the report figures and the model client. Most of its series exist only
 * once a ThreatReport has run (gauges per report, counters per model), so the network journey
 * leaves this row to the report journey, which runs ThreatReports with a real model.
 */
export const REPORTS_ROW = 'Reports';

/**
 * The dashboard row of the aggregated replica API (threatmesh replica-api) and its APIService,
 * whose series come from the replica API's own /metrics and the API server's: the replica API
 * test (e2e/integration/replica-api.test.ts) checks this row and the replica API alerts.
 */
export const REPLICA_API_ROW = 'Replica API';

/** True when a metric is read by the replica API's row or alerts (served by the replica API or the API server's aggregator). */
export function isReplicaApiMetric(name: string): boolean {
  return name.startsWith('threatmesh_replica_api_') || name.startsWith('aggregator_');
}

/** One dashboard panel: title, PromQL and unit. */
export interface Panel {
  readonly row: string;
  readonly title: string;
  readonly expr: string;
  readonly legend: string;
  readonly unit: string;
  readonly kind: 'timeseries' | 'stat';
}

/** Every panel of the ThreatMesh Grafana dashboard, in order. */
export const PANELS: readonly Panel[] = [
  { row: 'Network', kind: 'stat', title: 'Accepted tree size', expr: 'max by (pod) (threatmesh_exchange_tree_size)', legend: '{{pod}}', unit: 'short' },
  { row: 'Network', kind: 'stat', title: 'Sequencer log size', expr: 'max(threatmesh_sequencer_tree_size)', legend: 'sequencer', unit: 'short' },
  { row: 'Network', kind: 'timeseries', title: 'Replication lag (entries)', expr: 'max by (pod) (threatmesh_exchange_lag_entries)', legend: '{{pod}}', unit: 'short' },
  { row: 'Network', kind: 'timeseries', title: 'Entries applied / s', expr: 'sum(rate(threatmesh_exchange_applied_total[5m]))', legend: 'applied', unit: 'ops' },
  { row: 'Network', kind: 'stat', title: 'Replication halted', expr: 'sum(threatmesh_exchange_halted) or vector(0)', legend: 'halted', unit: 'short' },
  { row: 'Voting', kind: 'timeseries', title: 'Open rounds', expr: 'max(threatmesh_sequencer_pending_rounds)', legend: 'open', unit: 'short' },
  { row: 'Voting', kind: 'timeseries', title: 'Proposals answered / s by status', expr: 'sum by (status) (rate(threatmesh_sequencer_proposals_total[5m]))', legend: '{{status}}', unit: 'ops' },
  { row: 'Voting', kind: 'timeseries', title: 'Votes answered / s by status', expr: 'sum by (status) (rate(threatmesh_sequencer_votes_total[5m]))', legend: '{{status}}', unit: 'ops' },
  { row: 'Voting', kind: 'timeseries', title: 'Rounds closed / h by outcome (network)', expr: 'sum by (kind, outcome) (increase(threatmesh_sequencer_rounds_closed_total[1h]))', legend: '{{kind}} {{outcome}}', unit: 'short' },
  { row: 'Voting', kind: 'stat', title: 'Proposals rejected or expired, 7 days (network)', expr: 'sum(increase(threatmesh_sequencer_rounds_closed_total{kind="add",outcome=~"rejected|expired"}[7d])) / clamp_min(sum(increase(threatmesh_sequencer_rounds_closed_total{kind="add"}[7d])), 1)', legend: 'rejection rate', unit: 'percentunit' },
  { row: 'Voting', kind: 'timeseries', title: 'Automatic votes sent / s', expr: 'sum by (decision) (rate(threatmesh_exchange_votes_total[5m]))', legend: '{{decision}}', unit: 'ops' },
  { row: 'Voting', kind: 'timeseries', title: 'Proposals forwarded / s', expr: 'sum(rate(threatmesh_exchange_proposals_forwarded_total[5m]))', legend: 'forwarded', unit: 'ops' },
  { row: 'Indicators and feeds', kind: 'timeseries', title: 'ThreatIndicators by phase', expr: 'sum by (phase) (threatmesh_indicators)', legend: '{{phase}}', unit: 'short' },
  { row: 'Indicators and feeds', kind: 'timeseries', title: 'Feeds by state', expr: 'sum by (state) (threatmesh_feeds)', legend: '{{state}}', unit: 'short' },
  { row: 'Operator', kind: 'timeseries', title: 'Reconciles / s by result', expr: 'sum by (controller, result) (rate(controller_runtime_reconcile_total[5m]))', legend: '{{controller}} {{result}}', unit: 'ops' },
  { row: 'Operator', kind: 'timeseries', title: 'Reconcile p95 (s)', expr: 'histogram_quantile(0.95, sum by (le, controller) (rate(controller_runtime_reconcile_time_seconds_bucket[5m])))', legend: '{{controller}}', unit: 's' },
  { row: 'Operator', kind: 'timeseries', title: 'Work queue depth', expr: 'sum by (name) (workqueue_depth)', legend: '{{name}}', unit: 'short' },
  { row: 'Operator', kind: 'timeseries', title: 'Webhook requests / s by code', expr: 'sum by (code) (rate(controller_runtime_webhook_requests_total[5m]))', legend: '{{code}}', unit: 'ops' },
  { row: 'Operator', kind: 'stat', title: 'Leaders', expr: 'sum by (name) (leader_election_master_status)', legend: '{{name}}', unit: 'short' },
  { row: REPLICA_API_ROW, kind: 'stat', title: 'APIService unavailable', expr: `max(aggregator_unavailable_apiservice{name="${REPLICA_APISERVICE_NAME}"})`, legend: 'unavailable', unit: 'short' },
  { row: REPLICA_API_ROW, kind: 'stat', title: 'Replica API pods ready', expr: 'sum(threatmesh_replica_api_ready)', legend: 'ready', unit: 'short' },
  { row: REPLICA_API_ROW, kind: 'stat', title: 'Pods reaching the partner database', expr: 'sum(threatmesh_replica_api_database_up)', legend: 'database up', unit: 'short' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Replica API requests / s by verb and code', expr: 'sum by (verb, code) (rate(threatmesh_replica_api_requests_total{resource="threatindicators"}[5m]))', legend: '{{verb}} {{code}}', unit: 'ops' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Replica API p99 latency (s) by verb', expr: 'histogram_quantile(0.99, sum by (le, verb) (rate(threatmesh_replica_api_request_duration_seconds_bucket{resource="threatindicators",code=~"2.."}[5m])))', legend: '{{verb}}', unit: 's' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Objects per list page (p95)', expr: 'histogram_quantile(0.95, sum by (le) (rate(threatmesh_replica_api_list_items_bucket[5m])))', legend: 'p95', unit: 'short' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'List pages / s (first or continued, more to come)', expr: 'sum by (page, more) (rate(threatmesh_replica_api_list_pages_total[5m]))', legend: '{{page}} more={{more}}', unit: 'ops' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Open list cursors (continue tokens) by pod', expr: 'max by (pod) (threatmesh_replica_api_open_lists)', legend: '{{pod}}', unit: 'short' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Authorization decisions / s', expr: 'sum by (decision) (rate(threatmesh_replica_api_authorization_total[5m]))', legend: '{{decision}}', unit: 'ops' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Callers refused / s (not the front proxy)', expr: 'sum by (result) (rate(threatmesh_replica_api_authentication_total{result!="success"}[5m]))', legend: '{{result}}', unit: 'ops' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Failed TLS handshakes / s', expr: 'sum(rate(threatmesh_replica_api_tls_handshake_errors_total[5m]))', legend: 'failed', unit: 'ops' },
  { row: REPLICA_API_ROW, kind: 'timeseries', title: 'Database errors / s by operation', expr: 'sum by (operation) (rate(threatmesh_replica_api_database_errors_total[5m]))', legend: '{{operation}}', unit: 'ops' },
  { row: REPORTS_ROW, kind: 'stat', title: 'Admitted in the report window', expr: 'max by (report) (threatmesh_report_admitted)', legend: '{{report}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'stat', title: 'Revoked in the report window', expr: 'max by (report) (threatmesh_report_revoked)', legend: '{{report}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'stat', title: 'Rejected in the report window (signed REJECT entries)', expr: 'max by (report) (threatmesh_report_rejected)', legend: '{{report}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'stat', title: 'Sightings in the report window', expr: 'max by (report) (threatmesh_report_sightings)', legend: '{{report}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Time to quorum (s)', expr: 'max by (report, quantile) (threatmesh_report_time_to_quorum_seconds)', legend: '{{report}} p{{quantile}}', unit: 's' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Rejection and revocation rates', expr: 'max by (report, rate) (threatmesh_report_rate_ratio)', legend: '{{report}} {{rate}}', unit: 'percentunit' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Share of a feed\'s proposals rejected', expr: 'max by (report, feed) (threatmesh_report_feed_rejection_ratio)', legend: '{{report}} {{feed}}', unit: 'percentunit' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Share of a proposer\'s proposals rejected', expr: 'max by (report, proposer) (threatmesh_report_proposer_rejection_ratio)', legend: '{{report}} {{proposer}}', unit: 'percentunit' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Summaries per day by generator', expr: 'sum by (generator, reason) (increase(threatmesh_report_summaries_total[1d]))', legend: '{{generator}} {{reason}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Grounding refusals per hour by reason', expr: 'sum by (reason) (increase(threatmesh_report_grounding_refusals_total[1h]))', legend: '{{reason}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Model requests / s by outcome', expr: 'sum by (model, outcome) (rate(threatmesh_llm_requests_total[5m]))', legend: '{{model}} {{outcome}}', unit: 'ops' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Model latency p95 (s)', expr: 'histogram_quantile(0.95, sum by (le, model) (rate(threatmesh_llm_request_duration_seconds_bucket[30m])))', legend: '{{model}}', unit: 's' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Model tokens per hour', expr: 'sum by (model, kind) (increase(threatmesh_llm_tokens_total[1h]))', legend: '{{model}} {{kind}}', unit: 'short' },
  { row: REPORTS_ROW, kind: 'timeseries', title: 'Answer cache per hour', expr: 'sum by (result) (increase(threatmesh_llm_cache_total[1h]))', legend: '{{result}}', unit: 'short' },
];

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'le', 'inf', 'nan']);

/** One label matcher of a PromQL selector, e.g. `code=~"5.."`. */
export interface LabelMatcher {
  readonly label: string;
  readonly op: '=' | '!=' | '=~' | '!~';
  readonly value: string;
}

/** A metric a PromQL expression reads and the label matchers it reads it with. */
export interface MetricSelector {
  readonly name: string;
  readonly matchers: readonly LabelMatcher[];
}

function matchers(inner: string): LabelMatcher[] {
  return [...inner.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)]
    .map((m) => ({ label: m[1] ?? '', op: (m[2] ?? '=') as LabelMatcher['op'], value: (m[3] ?? '').replace(/\\(.)/g, '$1') }));
}

/**
 * The selectors of a PromQL expression: each identifier that is not a function, keyword, label
 * name (by/without/on/ignoring lists) or duration, with the matchers in its braces. Enough for
 * the expressions of ALERTS and PANELS (no string arguments outside braces).
 */
export function metricSelectors(expr: string): MetricSelector[] {
  const stripped = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\boffset\s+-?[0-9a-z]+/g, ' ');
  const out: MetricSelector[] = [];
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{([^}]*)\})?\s*(\()?/g)) {
    const name = m[1] ?? '';
    if (m[3] !== undefined || KEYWORDS.has(name.toLowerCase())) continue;
    out.push({ name, matchers: matchers(m[2] ?? '') });
  }
  return out;
}

/** The metric names a PromQL expression reads (metricSelectors without their matchers, each once). */
export function metricNames(expr: string): string[] {
  return [...new Set(metricSelectors(expr).map((s) => s.name))];
}
