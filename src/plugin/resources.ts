/**
 * Turning the backend's resource answers into pickable options. The sidecar answers lists
 * (GET …/resources/<name>?target=&database=&schema=&table=); this accepts the shapes a list can
 * reasonably take so the editor does not break if the backend adds fields.
 */
import { parentsOf, queryOptionDecls, type OptionDecl, type QueryOptionName } from '../model/options';
import type { ListResource, PickOption } from './types';

type ParentKey = 'target' | 'database' | 'schema' | 'table';

/**
 * The query filters each list is narrowed by (a table list depends on database and schema …):
 * the options whose change clears the option the list offers, as model/options.ts declares them.
 */
export const resourceParents = {
  metrics: ['target'],
  ...Object.fromEntries(
    (Object.entries(queryOptionDecls) as Array<[QueryOptionName, OptionDecl]>)
      .filter(([, d]) => d.list !== undefined)
      .map(([k, d]) => [d.list, parentsOf(k)])
  ),
} as Record<ListResource, ParentKey[]>;

/** Which backend path serves a list (metrics come from the catalog resource). */
export function resourcePath(resource: ListResource): string {
  return resource === 'metrics' ? 'catalog' : resource;
}

function pickString(o: Record<string, unknown>, keys: string[]): string | undefined {
  for (const k of keys) {
    const v = o[k];
    if (typeof v === 'string' && v !== '') {
      return v;
    }
    if (typeof v === 'number' || typeof v === 'bigint') {
      return String(v);
    }
  }
  return undefined;
}

function itemsOf(body: unknown, resource: ListResource): unknown[] {
  if (Array.isArray(body)) {
    return body;
  }
  if (body && typeof body === 'object') {
    const o = body as Record<string, unknown>;
    for (const k of [resource, 'items', 'values', 'results', 'data', 'metrics']) {
      if (Array.isArray(o[k])) {
        return o[k] as unknown[];
      }
    }
  }
  return [];
}

/** Normalise a resource body into options, deduplicated, in the backend's order. */
export function toPickOptions(body: unknown, resource: ListResource): PickOption[] {
  const out: PickOption[] = [];
  const seen = new Set<string>();
  for (const item of itemsOf(body, resource)) {
    let opt: PickOption | undefined;
    if (typeof item === 'string' || typeof item === 'number') {
      opt = { value: String(item), label: String(item) };
    } else if (item && typeof item === 'object') {
      const o = item as Record<string, unknown>;
      const value = pickString(o, [
        'value',
        'id',
        'queryid',
        'name',
        'indexrelname',
        'relname',
        'schemaname',
        'datname',
        'text',
      ]);
      if (value !== undefined) {
        const label = pickString(o, ['label', 'title', 'text', 'name']) ?? value;
        const description = pickString(o, ['description', 'query', 'detail', 'kind']);
        opt = {
          value,
          label,
          ...(description
            ? { description: description.length > 160 ? description.slice(0, 157) + '…' : description }
            : {}),
        };
      }
    }
    if (opt && !seen.has(opt.value)) {
      seen.add(opt.value);
      out.push(opt);
    }
  }
  return out;
}
