/**
 * A plan (EXPLAIN FORMAT JSON) as flat nodes, as frames, and as a fingerprint of its shape.
 *
 * The fingerprint hashes what makes two plans "the same plan": node types, the relations and
 * indexes they read, join types, strategies and how nodes nest — never costs, row estimates or
 * widths, which move with every ANALYZE without the plan changing.
 */
import { createHash } from 'node:crypto';
import type { Field, Frame } from '../../model/frames';

export type PlanJson = Record<string, unknown> & { 'Node Type': string; Plans?: PlanJson[] };

export interface PlanNode {
  id: number;
  parent: number | null;
  depth: number;
  /** EXPLAIN's "Node Type", as is */
  nodeType: string;
  /** what people call it: HashAggregate / GroupAggregate for an Aggregate's strategy, the operation of a ModifyTable */
  label: string;
  relation: string;
  alias: string;
  index: string;
  joinType: string;
  parentRelationship: string;
  rows: number | null;
  startupCost: number | null;
  totalCost: number | null;
  width: number | null;
  indexCond: string;
  filter: string;
  joinCond: string;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** What a node reads: schema.relation when EXPLAIN says the schema, a CTE or function name otherwise. */
function relationOf(p: PlanJson): string {
  const rel = str(p['Relation Name']);
  if (rel) {
    return p.Schema ? `${str(p.Schema)}.${rel}` : rel;
  }
  return str(p['CTE Name']) || str(p['Function Name']) || str(p['Subplan Name']);
}

/** Pre-order: node 1 is the root, children follow their parent in EXPLAIN's order. */
export function flattenPlan(root: PlanJson): PlanNode[] {
  const out: PlanNode[] = [];
  const visit = (p: PlanJson, parent: number | null, depth: number) => {
    const id = out.length + 1;
    const node = p['Node Type'] === 'ModifyTable' ? str(p.Operation) || 'ModifyTable' : p['Node Type'];
    const strategy = str(p.Strategy);
    out.push({
      id,
      parent,
      depth,
      nodeType: p['Node Type'],
      // "Aggregate" alone hides whether it sorts or hashes: "HashAggregate" is what people know
      label:
        p['Node Type'] === 'Aggregate' && strategy === 'Hashed'
          ? 'HashAggregate'
          : p['Node Type'] === 'Aggregate' && strategy === 'Sorted'
            ? 'GroupAggregate'
            : node,
      relation: relationOf(p),
      alias: str(p.Alias),
      index: str(p['Index Name']),
      joinType: str(p['Join Type']),
      parentRelationship: str(p['Parent Relationship']),
      rows: num(p['Plan Rows']),
      startupCost: num(p['Startup Cost']),
      totalCost: num(p['Total Cost']),
      width: num(p['Plan Width']),
      indexCond: [str(p['Index Cond']), str(p['Recheck Cond']) && `recheck ${str(p['Recheck Cond'])}`]
        .filter(Boolean)
        .join('; '),
      filter: [
        str(p.Filter),
        str(p['Join Filter']) && `join ${str(p['Join Filter'])}`,
        str(p['One-Time Filter']) && `one-time ${str(p['One-Time Filter'])}`,
      ]
        .filter(Boolean)
        .join('; '),
      joinCond: str(p['Hash Cond']) || str(p['Merge Cond']),
    });
    for (const c of p.Plans ?? []) {
      visit(c, id, depth + 1);
    }
  };
  visit(root, null, 0);
  return out;
}

/** The shape as nested text, one node a line: what the fingerprint hashes and an event shows. */
export function planShape(root: PlanJson): string[] {
  return flattenPlan(root).map((n) => {
    const on = n.index ? ` using ${n.index}` : '';
    const rel = n.relation ? ` on ${n.relation}` : '';
    const join = n.joinType && n.joinType !== 'Inner' ? ` (${n.joinType})` : '';
    return `${'  '.repeat(n.depth)}${n.label}${join}${on}${rel}`;
  });
}

export function planFingerprint(root: PlanJson): string {
  return createHash('sha256').update(planShape(root).join('\n')).digest('hex').slice(0, 16);
}

/** how each relation is read: "Seq Scan", "Index Scan using t_pkey", "Bitmap Heap Scan using t_a" … */
function accessByRelation(shape: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const indent = (l: string) => l.length - l.trimStart().length;
  shape.forEach((line, i) => {
    const m = /^\s*(.+?) on (\S+)$/.exec(line);
    if (!m || !/Scan/.test(m[1]) || out.has(m[2])) {
      return;
    }
    let how = m[1].replace(/ \(.*\)$/, '');
    if (how === 'Bitmap Heap Scan') {
      // the index is on the Bitmap Index Scan below it
      const below: string[] = [];
      for (let j = i + 1; j < shape.length && indent(shape[j]) > indent(line); j++) {
        const u = /Bitmap Index Scan using (\S+)/.exec(shape[j]);
        if (u) {
          below.push(u[1]);
        }
      }
      if (below.length) {
        how += ` using ${below.join(', ')}`;
      }
    }
    out.set(m[2], how);
  });
  return out;
}

/** One line saying what changed between two shapes: "Seq Scan → Index Scan using t_a on t". */
export function describeChange(before: string[], after: string[]): string {
  const a = accessByRelation(before);
  const b = accessByRelation(after);
  const changes: string[] = [];
  for (const [rel, how] of b) {
    const was = a.get(rel);
    if (was !== undefined && was !== how) {
      changes.push(`${was} → ${how} on ${rel}`);
    }
  }
  if (changes.length > 0) {
    return changes.join(', ');
  }
  const top = (s: string[]) =>
    s
      .filter((l) => !l.startsWith('    '))
      .map((l) => l.trim())
      .join(' / ');
  return `${top(before)} → ${top(after)}`;
}

const stringField = (name: string, values: string[], displayName?: string): Field => ({
  name,
  type: 'string',
  values,
  config: displayName ? { displayName } : {},
});
const numberField = (name: string, values: Array<number | null>, config: Field['config'] = {}): Field => ({
  name,
  type: 'number',
  values,
  nullable: true,
  config,
});

/** The nodes as a table: one row per plan node, in EXPLAIN's order, indented by depth. */
export function nodeTableFields(nodes: PlanNode[]): Field[] {
  return [
    numberField(
      'node',
      nodes.map((n) => n.id),
      { displayName: 'Node' }
    ),
    numberField(
      'parent',
      nodes.map((n) => n.parent),
      { displayName: 'Parent' }
    ),
    stringField(
      'plan',
      nodes.map(
        (n) =>
          `${'\u00a0\u00a0\u00a0'.repeat(n.depth)}${n.depth > 0 ? '→ ' : ''}${n.label}${n.joinType ? ` (${n.joinType})` : ''}`
      ),
      'Plan'
    ),
    numberField(
      'depth',
      nodes.map((n) => n.depth),
      { displayName: 'Depth' }
    ),
    stringField(
      'node_type',
      nodes.map((n) => n.nodeType),
      'Node type'
    ),
    stringField(
      'join_type',
      nodes.map((n) => n.joinType),
      'Join type'
    ),
    stringField(
      'relation',
      nodes.map((n) => n.relation),
      'Relation'
    ),
    stringField(
      'index',
      nodes.map((n) => n.index),
      'Index'
    ),
    numberField(
      'est_rows',
      nodes.map((n) => n.rows),
      { displayName: 'Estimated rows', unit: 'short' }
    ),
    numberField(
      'startup_cost',
      nodes.map((n) => n.startupCost),
      { displayName: 'Startup cost', decimals: 2 }
    ),
    numberField(
      'total_cost',
      nodes.map((n) => n.totalCost),
      { displayName: 'Total cost', decimals: 2 }
    ),
    numberField(
      'width',
      nodes.map((n) => n.width),
      { displayName: 'Row width', unit: 'bytes' }
    ),
    stringField(
      'index_cond',
      nodes.map((n) => n.indexCond),
      'Index cond'
    ),
    stringField(
      'filter',
      nodes.map((n) => n.filter),
      'Filter'
    ),
    stringField(
      'join_cond',
      nodes.map((n) => n.joinCond),
      'Join cond'
    ),
  ];
}

/** a node's own cost: its total minus its children's (never below 0: parallel and limit nodes) */
export function exclusiveCosts(nodes: PlanNode[]): number[] {
  return nodes.map((n) => {
    const children = nodes.filter((c) => c.parent === n.id).reduce((a, c) => a + (c.totalCost ?? 0), 0);
    return Math.max(0, (n.totalCost ?? 0) - children);
  });
}

/**
 * The node graph pair. Field names are Grafana's node graph data API — NodeGraphDataFrameFieldNames
 * in @grafana/data (packages/grafana-data/src/utils/nodeGraph.ts: id, title, subtitle, mainstat,
 * secondarystat, arc__*, detail__*, source, target; checked against @grafana/data 13.1.1 and
 * https://grafana.com/docs/grafana/latest/panels-visualizations/visualizations/node-graph/).
 * The arcs of a node must sum to 1: its own share of its cost and its children's share.
 */
export function nodeGraphFrames(nodes: PlanNode[], refId: string): Frame[] {
  const own = exclusiveCosts(nodes);
  const share = nodes.map((n, i) => ((n.totalCost ?? 0) > 0 ? own[i] / (n.totalCost as number) : 1));
  const meta = { preferredVisualisationType: 'nodeGraph' as const };
  const edges = nodes.filter((n) => n.parent !== null);
  return [
    {
      name: 'nodes',
      refId,
      meta,
      fields: [
        stringField(
          'id',
          nodes.map((n) => String(n.id))
        ),
        stringField(
          'title',
          nodes.map((n) => n.label + (n.joinType ? ` (${n.joinType})` : ''))
        ),
        stringField(
          'subtitle',
          nodes.map((n) => [n.index && `using ${n.index}`, n.relation && `on ${n.relation}`].filter(Boolean).join(' '))
        ),
        numberField(
          'mainstat',
          nodes.map((n) => n.rows),
          { displayName: 'est. rows', unit: 'short' }
        ),
        numberField(
          'secondarystat',
          nodes.map((n) => n.totalCost),
          { displayName: 'total cost', decimals: 1 }
        ),
        numberField('arc__self', share, {
          displayName: 'own cost share',
          color: { mode: 'fixed', fixedColor: 'orange' },
        }),
        numberField(
          'arc__children',
          share.map((s) => 1 - s),
          { displayName: 'children cost share', color: { mode: 'fixed', fixedColor: 'blue' } }
        ),
        stringField(
          'detail__index_cond',
          nodes.map((n) => n.indexCond),
          'Index cond'
        ),
        stringField(
          'detail__filter',
          nodes.map((n) => n.filter),
          'Filter'
        ),
        stringField(
          'detail__join_cond',
          nodes.map((n) => n.joinCond),
          'Join cond'
        ),
      ],
    },
    {
      name: 'edges',
      refId,
      meta,
      fields: [
        stringField(
          'id',
          edges.map((n) => `${n.parent}-${n.id}`)
        ),
        stringField(
          'source',
          edges.map((n) => String(n.parent))
        ),
        stringField(
          'target',
          edges.map((n) => String(n.id))
        ),
        stringField(
          'detail__relationship',
          edges.map((n) => n.parentRelationship),
          'Relationship'
        ),
      ],
    },
  ];
}
