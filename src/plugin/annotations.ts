/**
 * Annotations: the backend's `events` metric (statistics resets, compute restarts, indexes
 * created/dropped, recommendations raised/cleared, actions) as a table with time, timeEnd,
 * title, text and tags columns, which Grafana's standard frame→event mapping understands.
 */
import type { AnnotationQuery, AnnotationSupport } from '@grafana/data';

import { migrateQuery } from '../model/query';
import type { PgpulseQuery } from './types';

export const ANNOTATION_METRIC = 'events';

export const pgpulseAnnotations: AnnotationSupport<PgpulseQuery> = {
  getDefaultQuery: () => ({ metric: ANNOTATION_METRIC }),

  /** Older or hand-written annotation JSON may lack a target query: default to the events list. */
  prepareAnnotation(json: AnnotationQuery<PgpulseQuery>): AnnotationQuery<PgpulseQuery> {
    const target = (json.target ?? { refId: 'Anno' }) as PgpulseQuery;
    return {
      ...json,
      target: migrateQuery({ ...target, refId: target.refId || 'Anno', metric: target.metric || ANNOTATION_METRIC }),
    };
  },

  prepareQuery(anno: AnnotationQuery<PgpulseQuery>): PgpulseQuery | undefined {
    const t = anno.target;
    if (!t) {
      return undefined;
    }
    return migrateQuery({ ...t, refId: t.refId || 'Anno', metric: t.metric || ANNOTATION_METRIC });
  },
};
