/**
 * Notices: how a computation says "this answer is incomplete, and here is why" without failing.
 * Grafana shows a frame's meta.notices on the panel (an icon in the header, coloured by severity).
 *
 * API for handlers and feature modules (vector, neon, advisors):
 *   notify(ctx, 'warning', 'probe "x" failed: permission denied for table t — GRANT SELECT ON t TO pgpulse')
 *   ctx.notices.push('plain text')            // still accepted: a plain string is an 'info' notice
 * Every frame the engine builds (seriesFrame / tableFrame) carries all notices of its query. When a
 * computation returns no frames at all, the engine answers one empty frame that carries them, so a
 * notice is never lost with the data. Say the cause and the fix in the text; never a secret.
 *
 * Use an error (DataResponse.error) rather than a notice when nothing in the answer can be trusted
 * (target unreachable for the whole range, collector never sampled): see SidecarService.queryOne.
 */
import type { Frame, FrameMeta } from '../../model/frames';

export type NoticeSeverity = 'info' | 'warning' | 'error';

export interface Notice {
  severity: NoticeSeverity;
  text: string;
}

export type NoticeInput = string | Notice;

export function notify(ctx: { notices: NoticeInput[] }, severity: NoticeSeverity, text: string): void {
  if (!ctx.notices.some((n) => (typeof n === 'string' ? n : n.text) === text)) {
    ctx.notices.push({ severity, text });
  }
}

export function normalizeNotices(notices: NoticeInput[]): Notice[] {
  const seen = new Set<string>();
  const out: Notice[] = [];
  for (const n of notices) {
    const x = typeof n === 'string' ? { severity: 'info' as const, text: n } : n;
    if (!seen.has(x.text)) {
      seen.add(x.text);
      out.push(x);
    }
  }
  return out;
}

/** The meta.notices entry for a frame, or nothing when there is no notice. */
export function noticeMeta(notices: NoticeInput[]): Pick<FrameMeta, 'notices'> {
  return notices.length ? { notices: normalizeNotices(notices) } : {};
}

/** Add notices to frames that were built before the notices were known (keeps each frame's own). */
export function withNotices(frames: Frame[], notices: NoticeInput[], refId: string): Frame[] {
  if (notices.length === 0) {
    return frames;
  }
  if (frames.length === 0) {
    return [{ name: 'notices', refId, meta: noticeMeta(notices), fields: [] }];
  }
  return frames.map((f) => ({
    ...f,
    meta: { ...f.meta, notices: normalizeNotices([...(f.meta?.notices ?? []), ...notices]) },
  }));
}

/** no frames, empty tables, or series that are all gaps */
export function hasNoData(frames: Frame[]): boolean {
  return frames.every((f) => {
    const value = f.meta?.type === 'timeseries-multi' ? f.fields[1] : f.fields[0];
    return !value || value.values.every((v) => v === null);
  });
}
