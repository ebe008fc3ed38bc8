/**
 * The Grafana dashboard built with @grafana/grafana-foundation-sdk from PANELS. Used by
 * `npm run generate` only (the SDK is a dev dependency): the app reads the generated JSON.
 */
import { DashboardBuilder, RowBuilder } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanel } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanel } from '@grafana/grafana-foundation-sdk/timeseries';
import { PANELS } from './alerts.ts';

/** The dashboard model (Grafana JSON) of every panel in PANELS, grouped in rows. */
export function buildDashboard(): unknown {
  const d = new DashboardBuilder('ThreatMesh').uid('threatmesh').tags(['threatmesh']).refresh('30s').time({ from: 'now-6h', to: 'now' });
  let row = '';
  for (const p of PANELS) {
    if (p.row !== row) {
      d.withRow(new RowBuilder(p.row));
      row = p.row;
    }
    const target = new DataqueryBuilder().expr(p.expr).legendFormat(p.legend);
    d.withPanel(p.kind === 'stat' ? new StatPanel().title(p.title).unit(p.unit).withTarget(target) : new TimeseriesPanel().title(p.title).unit(p.unit).withTarget(target));
  }
  return d.build();
}
