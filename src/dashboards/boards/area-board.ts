/**
 * Vector search and Neon dashboards: every catalog metric of the area, or a note saying which
 * issue adds them while the area is still empty.
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import type { Area } from '../../model/catalog';
import { areaPanels, metricsInArea } from '../area-panels';
import { finish, newDashboard } from '../board';
import { DASHBOARD_UIDS } from '../constants';
import { textPanel } from '../panels';

export function vectorDashboard(): Dashboard {
  return areaDashboard(
    'Vector search',
    DASHBOARD_UIDS.vector,
    'pgpulse / Vector search',
    'pgvector: latency of vector queries seen in pg_stat_statements, active probes (latency, recall@k against exact search) and HNSW / IVFFlat index health.',
  );
}

export function neonDashboard(): Dashboard {
  return areaDashboard(
    'Neon',
    DASHBOARD_UIDS.neon,
    'pgpulse / Neon',
    'Neon: compute state (read from the Neon API without waking the compute) and the local file cache. Gaps while the endpoint is idle are scale-to-zero working as designed.',
  );
}

function areaDashboard(area: Area, uid: string, title: string, description: string): Dashboard {
  const b = newDashboard(uid, title, description);
  if (metricsInArea(area).length === 0) {
    b.withPanel(textPanel(`No ${area} metrics yet`, `This pgpulse build has no **${area}** metrics in its catalog; they appear here once the catalog holds them.`, 24, 4));
  }
  for (const p of areaPanels(area)) b.withPanel(p);
  return finish(b);
}
