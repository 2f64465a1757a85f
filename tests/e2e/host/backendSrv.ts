/**
 * The host's stand-in for Grafana's backendSrv: real HTTP (window.fetch) to the Node stand-in
 * for Grafana's API, with the same response and error shapes the plugin code expects
 * (FetchResponse on success, FetchError with status/data on a non-2xx answer).
 */
import type { BackendSrv, BackendSrvRequest, FetchResponse } from '@grafana/runtime';
import { lastValueFrom, Observable } from 'rxjs';

export interface LoggedRequest {
  method: string;
  url: string;
  status?: number;
}

export class HostBackendSrv {
  readonly log: LoggedRequest[] = [];

  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const controller = new AbortController();
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(options.params ?? {})) {
        if (v !== undefined && v !== null && v !== '') {
          params.append(k, String(v));
        }
      }
      const url = options.url + (params.toString() ? (options.url.includes('?') ? '&' : '?') + params.toString() : '');
      const method = (options.method ?? 'GET').toUpperCase();
      const entry: LoggedRequest = { method, url };
      this.log.push(entry);
      window
        .fetch(url, {
          method,
          headers: { 'Content-Type': 'application/json', Accept: 'application/json', ...(options.headers ?? {}) },
          body: options.data !== undefined && method !== 'GET' ? JSON.stringify(options.data) : undefined,
          signal: controller.signal,
        })
        .then(async (rsp) => {
          entry.status = rsp.status;
          const text = await rsp.text();
          let data: unknown = text;
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text
          }
          const response = {
            data: data as T,
            status: rsp.status,
            statusText: rsp.statusText,
            ok: rsp.ok,
            headers: rsp.headers,
            redirected: rsp.redirected,
            type: rsp.type,
            url: rsp.url,
            config: options,
          } as FetchResponse<T>;
          if (!rsp.ok) {
            subscriber.error({ status: rsp.status, statusText: rsp.statusText, data, config: options });
            return;
          }
          subscriber.next(response);
          subscriber.complete();
        })
        .catch((e) =>
          subscriber.error({ status: 0, statusText: String(e), data: { message: String(e) }, config: options })
        );
      return () => controller.abort();
    });
  }

  request<T = unknown>(options: BackendSrvRequest): Promise<T> {
    return lastValueFrom(this.fetch<T>(options)).then((r) => r.data);
  }
  datasourceRequest<T = unknown>(options: BackendSrvRequest): Promise<FetchResponse<T>> {
    return lastValueFrom(this.fetch<T>(options));
  }
  get<T = unknown>(url: string, params?: Record<string, unknown>): Promise<T> {
    return this.request<T>({ url, params, method: 'GET' });
  }
  delete<T = unknown>(url: string, data?: unknown): Promise<T> {
    return this.request<T>({ url, data, method: 'DELETE' });
  }
  post<T = unknown>(url: string, data?: unknown): Promise<T> {
    return this.request<T>({ url, data, method: 'POST' });
  }
  patch<T = unknown>(url: string, data?: unknown): Promise<T> {
    return this.request<T>({ url, data, method: 'PATCH' });
  }
  put<T = unknown>(url: string, data?: unknown): Promise<T> {
    return this.request<T>({ url, data, method: 'PUT' });
  }
  resolveCancelerIfExists() {}
  asBackendSrv(): BackendSrv {
    return this as unknown as BackendSrv;
  }
}
