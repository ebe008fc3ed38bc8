/**
 * The shipped alerts behave as documented: `promtool test rules` (Prometheus's own rule unit
 * tests, Debian's prometheus package) evaluates the generated PrometheusRule spec
 * (charts/threatmesh/files/prometheusrule-spec.yaml, which the chart and the cdk8s app both ship)
 * over synthetic series. Every alert has a row: series that make it fire, with the labels and the
 * rendered annotations the on-call person reads, and series that must not fire (below the
 * threshold, not for long enough, or the wrong label). A row that expects the wrong thing fails.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ALERTS, type Alert } from '../../cdk8s/lib/alerts.ts';
import { chartFile } from '../../cdk8s/lib/monitoring.ts';
import { tools, type Tools } from '../harness/install.ts';

const run = promisify(execFile);

/** Series in promtool's notation: `metric{labels}` and expanding values (`0+1x30`: 0, 1, … 30). */
interface Series {
  readonly series: string;
  readonly values: string;
}

/** One alert's row: what fires it (when, with which labels and $value) and what must not. */
interface Row {
  readonly alert: string;
  readonly fire: readonly Series[];
  readonly at: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The alert's $value as its description prints it, when the description uses it. */
  readonly value?: string;
  readonly quiet: readonly Series[];
  readonly quietAt: string;
}

const ROWS: readonly Row[] = [
  {
    alert: 'ThreatMeshReplicationHalted', at: '5m', labels: { namespace: 'tm', pod: 'op-0', reason: 'root-mismatch' },
    fire: [{ series: 'threatmesh_exchange_halted{namespace="tm",pod="op-0",reason="root-mismatch"}', values: '1x10' }],
    // Halted for 30 s only (the rule waits 1 minute).
    quiet: [{ series: 'threatmesh_exchange_halted{namespace="tm",pod="op-0",reason="root-mismatch"}', values: '0x4 1' }], quietAt: '5m',
  },
  {
    alert: 'ThreatMeshSequencerSilent', at: '10m', labels: { namespace: 'tm', pod: 'op-0' }, value: '1000',
    fire: [{ series: 'threatmesh_exchange_sequencer_head_age_seconds{namespace="tm",pod="op-0"}', values: '400+60x20' }],
    quiet: [{ series: 'threatmesh_exchange_sequencer_head_age_seconds{namespace="tm",pod="op-0"}', values: '60x20' }], quietAt: '10m',
  },
  {
    alert: 'ThreatMeshEquivocationSuspected', at: '15m', labels: { namespace: 'tm', pod: 'op-0', peer: 'partner-b' },
    fire: [{ series: 'threatmesh_exchange_equivocation_suspected{namespace="tm",pod="op-0",peer="partner-b"}', values: '1x20' }],
    // Settled after 5 minutes (the rule waits 10).
    quiet: [{ series: 'threatmesh_exchange_equivocation_suspected{namespace="tm",pod="op-0",peer="partner-b"}', values: '1x5 0x15' }], quietAt: '15m',
  },
  {
    alert: 'ThreatMeshSequencerMisbehaviour', at: '3m', labels: { namespace: 'tm', reason: 'bad-inclusion-proof' },
    fire: [{ series: 'threatmesh_exchange_sequencer_misbehaviour_total{namespace="tm",pod="op-0",reason="bad-inclusion-proof"}', values: '0 0 1 1 1' }],
    // Caught long ago: the counter no longer grows.
    quiet: [{ series: 'threatmesh_exchange_sequencer_misbehaviour_total{namespace="tm",pod="op-0",reason="bad-inclusion-proof"}', values: '3x30' }], quietAt: '25m',
  },
  {
    alert: 'ThreatMeshBadPeerHeads', at: '3m', labels: { namespace: 'tm', peer: 'partner-c' },
    fire: [{ series: 'threatmesh_exchange_bad_peer_heads_total{namespace="tm",pod="op-1",peer="partner-c"}', values: '0 2 2 2' }],
    quiet: [{ series: 'threatmesh_exchange_bad_peer_heads_total{namespace="tm",pod="op-1",peer="partner-c"}', values: '2x30' }], quietAt: '25m',
  },
  {
    alert: 'ThreatMeshUnmaterialized', at: '3m', labels: { namespace: 'tm' },
    fire: [{ series: 'threatmesh_exchange_unmaterialized_total{namespace="tm",pod="op-0"}', values: '0 5 5 5' }],
    quiet: [{ series: 'threatmesh_exchange_unmaterialized_total{namespace="tm",pod="op-0"}', values: '5x100' }], quietAt: '90m',
  },
  {
    alert: 'ThreatMeshReplicationLag', at: '20m', labels: { namespace: 'tm' }, value: '500',
    fire: [{ series: 'threatmesh_exchange_lag_entries{namespace="tm",pod="op-0"}', values: '500x30' }],
    quiet: [{ series: 'threatmesh_exchange_lag_entries{namespace="tm",pod="op-0"}', values: '50x30' }], quietAt: '20m',
  },
  {
    alert: 'ThreatMeshRoundsExpiring', at: '26h', labels: { namespace: 'seq' },
    fire: [{ series: 'threatmesh_sequencer_pending_rounds{namespace="seq",pod="seq-0"}', values: '2x1600' }],
    // The rounds were all decided once, 20 hours in: no round waited a whole day.
    quiet: [{ series: 'threatmesh_sequencer_pending_rounds{namespace="seq",pod="seq-0"}', values: '2x1199 0 2x400' }], quietAt: '26h',
  },
  {
    alert: 'ThreatMeshSequencerNotServing', at: '10m', labels: { namespace: 'seq' }, value: '0',
    fire: [{ series: 'threatmesh_sequencer_serving{namespace="seq",pod="seq-0"}', values: '0x20' }, { series: 'threatmesh_sequencer_serving{namespace="seq",pod="seq-1"}', values: '0x20' }],
    // One replica of two holds the Lease.
    quiet: [{ series: 'threatmesh_sequencer_serving{namespace="seq",pod="seq-0"}', values: '1x20' }, { series: 'threatmesh_sequencer_serving{namespace="seq",pod="seq-1"}', values: '0x20' }], quietAt: '10m',
  },
  {
    alert: 'ThreatMeshFeedFailing', at: '45m', labels: { namespace: 'tm' }, value: '2',
    fire: [{ series: 'threatmesh_feeds{namespace="tm",pod="op-0",state="failing"}', values: '2x60' }, { series: 'threatmesh_feeds{namespace="tm",pod="op-0",state="ready"}', values: '5x60' }],
    quiet: [{ series: 'threatmesh_feeds{namespace="tm",pod="op-0",state="failing"}', values: '0x60' }, { series: 'threatmesh_feeds{namespace="tm",pod="op-0",state="ready"}', values: '7x60' }], quietAt: '45m',
  },
  {
    alert: 'ThreatMeshWebhookErrors', at: '20m', labels: { namespace: 'tm' },
    fire: [{ series: 'controller_runtime_webhook_requests_total{namespace="tm",pod="op-0",code="500",webhook="/validate"}', values: '0+1x30' }],
    // Many requests, all answered 200.
    quiet: [{ series: 'controller_runtime_webhook_requests_total{namespace="tm",pod="op-0",code="200",webhook="/validate"}', values: '0+10x30' }], quietAt: '20m',
  },
  {
    alert: 'ThreatMeshReportModelFallback', at: '3m', labels: { namespace: 'tm' },
    fire: [{ series: 'threatmesh_report_summaries_total{namespace="tm",pod="op-0",generator="extractive",reason="grounding"}', values: '0 1 1 1' }],
    // No model configured is a choice, not a failure; model summaries are fine.
    quiet: [
      { series: 'threatmesh_report_summaries_total{namespace="tm",pod="op-0",generator="extractive",reason="no-model"}', values: '0+1x10' },
      { series: 'threatmesh_report_summaries_total{namespace="tm",pod="op-0",generator="model",reason="none"}', values: '0+1x10' },
    ], quietAt: '10m',
  },
  {
    alert: 'ThreatMeshReconcileErrors', at: '30m', labels: { namespace: 'tm', controller: 'feed' },
    // 10 errors a minute (0.17/s) against 1 a minute (0.017/s); the rule fires above 0.1/s.
    fire: [{ series: 'controller_runtime_reconcile_errors_total{namespace="tm",pod="op-0",controller="feed"}', values: '0+10x40' }],
    quiet: [{ series: 'controller_runtime_reconcile_errors_total{namespace="tm",pod="op-0",controller="feed"}', values: '0+1x40' }], quietAt: '30m',
  },
  {
    alert: 'ThreatMeshDecisionWithheld', at: '3m', labels: { namespace: 'tm' },
    fire: [{ series: 'threatmesh_exchange_missing_decisions_total{namespace="tm",pod="op-0",evidence="acknowledged"}', values: '0 1 1 1' }],
    // Only an unacknowledged one: that is the other alert's.
    quiet: [{ series: 'threatmesh_exchange_missing_decisions_total{namespace="tm",pod="op-0",evidence="unacknowledged"}', values: '0 1 1 1' }], quietAt: '3m',
  },
  {
    alert: 'ThreatMeshDecisionMissing', at: '3m', labels: { namespace: 'tm' },
    fire: [{ series: 'threatmesh_exchange_missing_decisions_total{namespace="tm",pod="op-0",evidence="unacknowledged"}', values: '0 1 1 1' }],
    // Reported long ago: the counter no longer grows.
    quiet: [{ series: 'threatmesh_exchange_missing_decisions_total{namespace="tm",pod="op-0",evidence="unacknowledged"}', values: '1x500' }], quietAt: '480m',
  },
  {
    alert: 'ThreatMeshReplicaApiUnavailable', at: '10m', labels: { name: 'v1alpha1.replica.threatmesh.io' },
    fire: [{ series: 'aggregator_unavailable_apiservice{job="apiserver",instance="10.0.0.1:6443",name="v1alpha1.replica.threatmesh.io"}', values: '1x15' }],
    // Another aggregated API is down; ours is available.
    quiet: [
      { series: 'aggregator_unavailable_apiservice{job="apiserver",instance="10.0.0.1:6443",name="v1beta1.metrics.k8s.io"}', values: '1x15' },
      { series: 'aggregator_unavailable_apiservice{job="apiserver",instance="10.0.0.1:6443",name="v1alpha1.replica.threatmesh.io"}', values: '0x15' },
    ], quietAt: '10m',
  },
  {
    alert: 'ThreatMeshReplicaApiErrors', at: '20m', labels: { namespace: 'tm' },
    // Half the lists answer 500.
    fire: [
      { series: 'threatmesh_replica_api_requests_total{namespace="tm",pod="ra-0",verb="list",resource="threatindicators",code="500"}', values: '0+10x30' },
      { series: 'threatmesh_replica_api_requests_total{namespace="tm",pod="ra-0",verb="list",resource="threatindicators",code="200"}', values: '0+10x30' },
    ],
    // One in a hundred: below the 5 % threshold.
    quiet: [
      { series: 'threatmesh_replica_api_requests_total{namespace="tm",pod="ra-0",verb="list",resource="threatindicators",code="500"}', values: '0+1x30' },
      { series: 'threatmesh_replica_api_requests_total{namespace="tm",pod="ra-0",verb="list",resource="threatindicators",code="200"}', values: '0+99x30' },
    ], quietAt: '20m',
  },
  {
    // Every get takes 2.5–5 s: p99 interpolates to 4.975 s, above the 1 s objective.
    alert: 'ThreatMeshReplicaApiSlow', at: '30m', labels: { namespace: 'tm', verb: 'get' }, value: '4.975',
    fire: histogram('get', '200', { 1: '0x40', 2.5: '0x40', 5: '0+10x40' }),
    // Gets under 1 s, list pages of 2.5–5 s (their objective is 5 s), and slow gets that failed (not successful reads).
    quiet: [...histogram('get', '200', { 0.5: '0x40', 1: '0+10x40' }), ...histogram('list', '200', { 2.5: '0x40', 5: '0+10x40' }), ...histogram('get', '500', { 5: '0x40', 10: '0+10x40' })], quietAt: '30m',
  },
  {
    alert: 'ThreatMeshReplicaApiDatabaseUnreachable', at: '15m', labels: { namespace: 'tm', pod: 'ra-1' },
    fire: [{ series: 'threatmesh_replica_api_database_up{namespace="tm",pod="ra-1"}', values: '0x20' }, { series: 'threatmesh_replica_api_database_up{namespace="tm",pod="ra-0"}', values: '1x20' }],
    // No answer for 3 minutes, then answered again (the rule waits 5).
    quiet: [{ series: 'threatmesh_replica_api_database_up{namespace="tm",pod="ra-1"}', values: '1x8 0x3 1x9' }], quietAt: '15m',
  },
  {
    alert: 'ThreatMeshReplicaApiCallersRefused', at: '20m', labels: { namespace: 'tm', result: 'no-verified-certificate' },
    fire: [{ series: 'threatmesh_replica_api_authentication_total{namespace="tm",pod="ra-0",result="no-verified-certificate"}', values: '0+5x30' }],
    // Refusals long ago (the counter no longer grows) and many front-proxy requests.
    quiet: [
      { series: 'threatmesh_replica_api_authentication_total{namespace="tm",pod="ra-0",result="no-verified-certificate"}', values: '3x30' },
      { series: 'threatmesh_replica_api_authentication_total{namespace="tm",pod="ra-0",result="success"}', values: '0+100x30' },
    ], quietAt: '20m',
  },
];

/** Cumulative latency buckets of replica API requests of `verb` and `code`: `le` → values; +Inf repeats the last. */
function histogram(verb: string, code: string, buckets: Readonly<Record<number, string>>): Series[] {
  const les = Object.keys(buckets).map(Number).sort((a, b) => a - b);
  const at = (le: string, values: string): Series => ({ series: `threatmesh_replica_api_request_duration_seconds_bucket{namespace="tm",pod="ra-0",verb="${verb}",resource="threatindicators",code="${code}",le="${le}"}`, values });
  return [...les.map((le) => at(String(le), buckets[le] ?? '')), at('+Inf', buckets[les[les.length - 1] ?? 0] ?? '')];
}

/** The annotations Prometheus renders for `alert` with `labels` and `value` (only the template forms the rules use; `humanize` prints the row's value as given). */
function rendered(alert: Alert, labels: Readonly<Record<string, string>>, value: string | undefined): Record<string, string> {
  const fill = (text: string): string => text
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, k: string) => labels[k] ?? '')
    .replace(/\{\{ \$value( \| humanize)? \}\}/g, () => {
      assert.ok(value !== undefined, `${alert.alert}: its description prints $value; give the row a value`);
      return value;
    });
  return { summary: fill(alert.summary), description: fill(alert.description) };
}

function unitTests(rulesPath: string, row: Row, alert: Alert, labels: Readonly<Record<string, string>>): unknown {
  return {
    rule_files: [rulesPath],
    evaluation_interval: '1m',
    tests: [
      {
        interval: '1m', input_series: row.fire,
        alert_rule_test: [{ eval_time: row.at, alertname: row.alert, exp_alerts: [{ exp_labels: { severity: alert.severity, ...labels }, exp_annotations: rendered(alert, labels, row.value) }] }],
      },
      { interval: '1m', input_series: row.quiet, alert_rule_test: [{ eval_time: row.quietAt, alertname: row.alert, exp_alerts: [] }] },
    ],
  };
}

describe('alerts under promtool test rules', { timeout: 600_000 }, () => {
  let t: Tools;
  let dir: string;
  const rulesPath = chartFile('prometheusrule-spec.yaml').pathname;
  before(async () => {
    t = await tools();
    dir = await mkdtemp(join(tmpdir(), 'tm-alerts-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const promtoolTest = async (name: string, doc: unknown): Promise<string> => {
    const path = join(dir, `${name}.yaml`);
    await writeFile(path, stringify(doc));
    const { stdout } = await run(t.PROMTOOL, ['test', 'rules', path]);
    return stdout;
  };
  const alertOf = (name: string): Alert => {
    const a = ALERTS.find((x) => x.alert === name);
    assert.ok(a, `no alert ${name} in cdk8s/lib/alerts.ts`);
    return a;
  };

  it('every alert of the PrometheusRule has a row', () => {
    assert.deepEqual(ROWS.map((r) => r.alert).sort(), ALERTS.map((a) => a.alert).sort());
  });

  for (const row of ROWS) {
    it(`${row.alert} fires on its condition with its labels and annotations, and stays quiet otherwise`, async () => {
      assert.match(await promtoolTest(row.alert, unitTests(rulesPath, row, alertOf(row.alert), row.labels)), /SUCCESS/);
    });
  }

  const slow = ROWS.find((r) => r.alert === 'ThreatMeshReplicaApiSlow')!;
  const wrong: ReadonlyArray<{ name: string; row: Row; labels: Readonly<Record<string, string>> }> = [
    { name: 'an alert from quiet series', row: { ...ROWS[0]!, fire: ROWS[0]!.quiet }, labels: ROWS[0]!.labels },
    { name: 'a label the alert does not carry', row: ROWS[1]!, labels: { ...ROWS[1]!.labels, peer: 'nobody' } },
    { name: 'silence from firing series', row: { ...ROWS[6]!, quiet: ROWS[6]!.fire }, labels: ROWS[6]!.labels },
    { name: 'an alert from list pages within their 5 s objective', row: { ...slow, fire: histogram('list', '200', { 2.5: '0x40', 5: '0+10x40' }) }, labels: { ...slow.labels, verb: 'list' } },
  ];
  for (const w of wrong) {
    it(`promtool fails a row that expects ${w.name} (the check can fail)`, async () => {
      await assert.rejects(promtoolTest(`wrong-${w.row.alert}`, unitTests(rulesPath, w.row, alertOf(w.row.alert), w.labels)), /FAILED/);
    });
  }
});
