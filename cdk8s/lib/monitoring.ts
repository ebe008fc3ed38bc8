/**
 * Monitoring: a ServiceMonitor for every ThreatMesh metrics Service (label
 * threatmesh.io/metrics=true), the PrometheusRule of ALERTS, and the Grafana dashboard as a
 * GrafanaDashboard resource. The pods also carry `prometheus.io/scrape` annotations for
 * Prometheus setups without the Operator. The dashboard JSON and the rule spec are generated
 * files of the chart (charts/threatmesh/files/), read here so both renderings carry the same bytes.
 */
import { readFileSync } from 'node:fs';
import { Construct } from 'constructs';
import { parse } from 'yaml';
import { GrafanaDashboard } from '../imports/grafana.integreatly.org.js';
import { PrometheusRule, PrometheusRuleSpecGroupsRulesExpr, ServiceMonitor } from '../imports/monitoring.coreos.com.js';
import type { Values } from '../values.ts';
import { ALERTS } from './alerts.ts';
import { labels } from './common.ts';

/** The PrometheusRule spec of ALERTS (written to charts/threatmesh/files/prometheusrule-spec.yaml). */
export function ruleSpec(): { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> } {
  return {
    groups: [{
      name: 'threatmesh',
      rules: ALERTS.map((a) => ({ alert: a.alert, expr: a.expr, for: a.for, labels: { severity: a.severity }, annotations: { summary: a.summary, description: a.description } })),
    }],
  };
}

/** Path of a generated chart file, relative to this module. */
export function chartFile(name: string): URL {
  return new URL(`../../charts/threatmesh/files/${name}`, import.meta.url);
}

/** Props of Monitoring. */
export interface MonitoringProps {
  /** Resolved installation values (monitoring.enabled). */
  readonly values: Values;
}

/** ServiceMonitor, PrometheusRule and GrafanaDashboard. */
export class Monitoring extends Construct {
  /** @param props values of the installation */
  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    const v = props.values;
    const meta = { ...labels(v, 'monitoring'), ...v.monitoring.ruleLabels };
    new ServiceMonitor(this, 'servicemonitor', {
      metadata: { name: 'threatmesh', labels: meta },
      spec: {
        selector: { matchLabels: { 'app.kubernetes.io/name': 'threatmesh', 'threatmesh.io/metrics': 'true' } },
        endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
      },
    });
    const spec = parse(readFileSync(chartFile('prometheusrule-spec.yaml'), 'utf8')) as ReturnType<typeof ruleSpec>;
    new PrometheusRule(this, 'rules', {
      metadata: { name: 'threatmesh', labels: meta },
      spec: { groups: spec.groups.map((g) => ({ name: g.name, rules: g.rules.map((r) => ({ ...r, expr: PrometheusRuleSpecGroupsRulesExpr.fromString(String(r['expr'])) })) })) },
    });
    new GrafanaDashboard(this, 'dashboard', {
      metadata: { name: 'threatmesh', labels: labels(v, 'monitoring') },
      spec: { instanceSelector: { matchLabels: { dashboards: v.monitoring.grafanaLabel } }, allowCrossNamespaceImport: true, json: readFileSync(chartFile('dashboard.json'), 'utf8') },
    });
  }
}
