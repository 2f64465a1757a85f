/** Indexes & tables: usage, unused/duplicate/invalid indexes, seq-scan-heavy tables, vacuum. */
import { RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { areaPanels } from '../area-panels';
import { finish, newDashboard } from '../board';
import { DASHBOARD_UIDS } from '../constants';
import { metricPanel } from '../panels';

export function indexesDashboard(): Dashboard {
  const b = newDashboard(
    DASHBOARD_UIDS.indexes,
    'pgpulse / Indexes & tables',
    'Which indexes earn their keep, which tables are scanned sequentially, and where VACUUM and ANALYZE lag.'
  ).withRow(new RowBuilder('Indexes'));

  b.withPanel(
    metricPanel({
      metric: 'index_usage',
      title: 'Indexes by scans (unused first to check)',
      width: 24,
      height: 10,
      options: { orderBy: 'scans' },
      note: 'Filter the unused / duplicate / invalid columns to find drop or rebuild candidates; on Neon, judge "unused" over days of history, not one range.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'index_usage',
      title: 'Largest indexes',
      width: 12,
      height: 9,
      options: { orderBy: 'size', topN: 20 },
    })
  );
  b.withPanel(metricPanel({ metric: 'index_scans', width: 12, height: 9 }));

  b.withRow(new RowBuilder('Tables'));
  b.withPanel(
    metricPanel({
      metric: 'table_stats',
      title: 'Seq-scan-heavy tables',
      width: 24,
      height: 10,
      options: { orderBy: 'seq_scans', topN: 20 },
      note: 'Many sequential scans reading many rows on a large table usually mean a missing index.',
    })
  );
  b.withPanel(
    metricPanel({
      metric: 'table_stats',
      title: 'Dead tuples, vacuum and analyze age',
      width: 24,
      height: 10,
      options: { orderBy: 'dead_tuples', topN: 20 },
      note: 'A high dead ratio with an old last (auto)vacuum means autovacuum is not keeping up.',
    })
  );
  b.withPanel(metricPanel({ metric: 'dead_tuples', width: 24, height: 8 }));

  const rest = areaPanels('Indexes & tables', new Set(['index_usage', 'index_scans', 'table_stats', 'dead_tuples']));
  if (rest.length > 0) {
    b.withRow(new RowBuilder('More'));
    for (const p of rest) {
      b.withPanel(p);
    }
  }
  return finish(b);
}
