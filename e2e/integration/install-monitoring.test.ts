/**
 * promtool (Prometheus's own checker, Debian's prometheus package) accepts the PrometheusRule's
 * rules and every PromQL expression of the Grafana dashboard (each wrapped in a recording rule),
 * and refuses a broken expression; the dashboard JSON carries exactly the panels' expressions.
 */
import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { ALERTS, PANELS, REPLICA_API_ROW, metricNames } from '../../cdk8s/lib/alerts.ts';
import { chartFile } from '../../cdk8s/lib/monitoring.ts';
import { tools, type Tools } from '../harness/install.ts';

const run = promisify(execFile);

describe('alerts and dashboard PromQL', { timeout: 600_000 }, () => {
  let t: Tools;
  let dir: string;
  before(async () => {
    t = await tools();
    dir = await mkdtemp(join(tmpdir(), 'tm-promtool-'));
  });
  const check = async (name: string, groups: unknown): Promise<string> => {
    await writeFile(join(dir, name), stringify(groups));
    const { stdout } = await run(t.PROMTOOL, ['check', 'rules', join(dir, name)]);
    return stdout;
  };

  it('promtool accepts the PrometheusRule spec the chart and the app render', async () => {
    const { stdout } = await run(t.PROMTOOL, ['check', 'rules', chartFile('prometheusrule-spec.yaml').pathname]);
    assert.match(stdout, new RegExp(`SUCCESS: ${ALERTS.length} rules found`));
  });

  it('promtool accepts every dashboard expression', async () => {
    const rules = PANELS.map((p, i) => ({ record: `threatmesh:dashboard_panel_${i}`, expr: p.expr }));
    assert.match(await check('panels.yaml', { groups: [{ name: 'dashboard', rules }] }), new RegExp(`SUCCESS: ${PANELS.length} rules found`));
  });

  it('promtool refuses a broken expression (the check can fail)', async () => {
    await assert.rejects(check('broken.yaml', { groups: [{ name: 'x', rules: [{ record: 'x:y', expr: 'sum by (pod (threatmesh_exchange_lag_entries)' }] }] }));
  });

  it('the dashboard JSON holds every panel expression, and each reads a ThreatMesh, controller-runtime or (replica API row) aggregator metric', async () => {
    const json = await readFile(chartFile('dashboard.json'), 'utf8');
    for (const p of PANELS) {
      assert.ok(json.includes(JSON.stringify(p.expr).slice(1, -1)), p.title);
      const allowed = p.row === REPLICA_API_ROW ? /^(threatmesh_replica_api_|aggregator_)/ : /^(threatmesh_|controller_runtime_|workqueue_|leader_election_)/;
      for (const m of metricNames(p.expr)) assert.match(m, allowed, `${p.title}: ${m}`);
    }
  });
});
