/**
 * CallResource / HTTP resource routes: lists for editor pickers and template variables, the
 * catalog, events for annotations. Answers come from stored entities, so pickers work even
 * while a Neon compute sleeps.
 */
import type { QueryContext, ResourceResponse } from './service';
import type { SidecarService } from './sidecar-service';
import { parseRange } from './time-range';

export type ResourceRoute = (
  svc: SidecarService,
  params: URLSearchParams,
  ctx: QueryContext
) => Promise<ResourceResponse> | ResourceResponse;

interface Item {
  value: string;
  label: string;
  description?: string;
}

const list = (items: Item[]): ResourceResponse => ({ status: 200, body: { items } });

/** The target a route means (its `target` parameter, else the datasource's): its name, or the 404 to answer. */
export function targetOf(
  svc: SidecarService,
  params: URLSearchParams,
  ctx: QueryContext,
  wanted: string | undefined = params.get('target') ?? undefined
): string | ResourceResponse {
  const { target, error } = svc.resolveTarget(wanted, ctx);
  return target ?? { status: 404, body: { error } };
}

function distinct(values: Iterable<string>): Item[] {
  return [...new Set(values)]
    .filter((v) => v !== '')
    .sort((a, b) => a.localeCompare(b))
    .map((v) => ({ value: v, label: v }));
}

function coreRouteMap(): Map<string, ResourceRoute> {
  const routes = new Map<string, ResourceRoute>();
  routes.set('catalog', (svc) => ({ status: 200, body: svc.catalog() }));
  routes.set('targets', (svc) =>
    list(
      [...svc.samplers.values()].map((s) => ({
        value: s.target.name,
        label: s.target.name,
        description:
          s.status.reachable === false
            ? `unreachable: ${s.status.lastError ?? ''}`
            : s.status.serverVersionNum
              ? `PostgreSQL ${Math.floor(s.status.serverVersionNum / 10000)}`
              : 'not sampled yet',
      }))
    )
  );
  routes.set('databases', (svc, p, ctx) => {
    const t = targetOf(svc, p, ctx);
    return typeof t === 'string' ? list(distinct(svc.store.entities(t, 'database').map((e) => e.labels.datname))) : t;
  });
  routes.set('schemas', (svc, p, ctx) => {
    const t = targetOf(svc, p, ctx);
    if (typeof t !== 'string') {
      return t;
    }
    return list(
      distinct(
        svc.store.entities(t, 'tables', { datname: p.get('database') || undefined }).map((e) => e.labels.schemaname)
      )
    );
  });
  routes.set('tables', (svc, p, ctx) => {
    const t = targetOf(svc, p, ctx);
    if (typeof t !== 'string') {
      return t;
    }
    const ents = svc.store.entities(t, 'tables', {
      datname: p.get('database') || undefined,
      schemaname: p.get('schema') || undefined,
    });
    return list(distinct(ents.map((e) => e.labels.relname)));
  });
  routes.set('indexes', (svc, p, ctx) => {
    const t = targetOf(svc, p, ctx);
    if (typeof t !== 'string') {
      return t;
    }
    const ents = svc.store.entities(t, 'indexes', {
      datname: p.get('database') || undefined,
      schemaname: p.get('schema') || undefined,
      relname: p.get('table') || undefined,
    });
    return list(
      ents
        .map((e) => ({
          value: e.labels.indexrelname,
          label: e.labels.indexrelname,
          description: String(e.info.indexdef ?? ''),
        }))
        .sort((a, b) => a.value.localeCompare(b.value))
    );
  });
  routes.set('queryids', (svc, p, ctx) => {
    const t = targetOf(svc, p, ctx);
    if (typeof t !== 'string') {
      return t;
    }
    const texts = svc.store.statementTexts(t);
    const ents = svc.store.entities(t, 'statements', { datname: p.get('database') || undefined });
    const seen = new Set<string>();
    const items: Item[] = [];
    for (const e of ents.sort((a, b) => b.lastSeen - a.lastSeen)) {
      const q = e.labels.queryid;
      if (seen.has(q)) {
        continue;
      }
      seen.add(q);
      const text = (texts.get(q) ?? '').replace(/\s+/g, ' ').trim();
      items.push({ value: q, label: text ? `${q}: ${text.slice(0, 60)}` : q, description: text || undefined });
      if (items.length >= 1000) {
        break;
      }
    }
    return list(items);
  });
  routes.set('events', (svc, p, ctx) => {
    const t = targetOf(svc, p, ctx);
    if (typeof t !== 'string') {
      return t;
    }
    const range = parseRange(p.get('from') ?? undefined, p.get('to') ?? undefined, { from: 'now-24h' });
    if ('error' in range) {
      return { status: 400, body: { error: range.error } };
    }
    const kinds = p.get('kinds')?.split(',').filter(Boolean);
    return { status: 200, body: { events: svc.store.events(t, range.from, range.to, kinds) } };
  });
  routes.set('health', async (svc, p, ctx) => {
    const report = await svc.health(p.get('target') ?? ctx.defaultTarget);
    return { status: 200, body: report };
  });
  return routes;
}

/** The core feature's routes; other features bring theirs through Feature.routes. */
export const coreRoutes: Readonly<Record<string, ResourceRoute>> = Object.fromEntries(coreRouteMap());
