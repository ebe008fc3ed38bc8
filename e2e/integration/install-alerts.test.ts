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
];

/** The annotations Prometheus renders for `alert` with `labels` and `value` (only the two template forms the rules use). */
function rendered(alert: Alert, labels: Readonly<Record<string, string>>, value: string | undefined): Record<string, string> {
  const fill = (text: string): string => text
    .replace(/\{\{ \$labels\.(\w+) \}\}/g, (_m, k: string) => labels[k] ?? '')
    .replace(/\{\{ \$value \}\}/g, () => {
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

  const wrong: ReadonlyArray<{ name: string; row: Row; labels: Readonly<Record<string, string>> }> = [
    { name: 'an alert from quiet series', row: { ...ROWS[0]!, fire: ROWS[0]!.quiet }, labels: ROWS[0]!.labels },
    { name: 'a label the alert does not carry', row: ROWS[1]!, labels: { ...ROWS[1]!.labels, peer: 'nobody' } },
    { name: 'silence from firing series', row: { ...ROWS[6]!, quiet: ROWS[6]!.fire }, labels: ROWS[6]!.labels },
  ];
  for (const w of wrong) {
    it(`promtool fails a row that expects ${w.name} (the check can fail)`, async () => {
      await assert.rejects(promtoolTest(`wrong-${w.row.alert}`, unitTests(rulesPath, w.row, alertOf(w.row.alert), w.labels)), /FAILED/);
    });
  }
});
