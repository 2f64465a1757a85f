/**
 * The part of Neon's published API v2 OpenAPI document that pgpulse uses, written down by hand:
 * for each operation the required query parameters and the statuses the document lists, and for
 * each response schema its required fields and the type/format/enum of every property the fake
 * serves or pgpulse reads. Properties pgpulse neither reads nor serves are left out; `open: true`
 * marks objects whose other documented properties may appear (the test then checks only those
 * listed and that nothing undocumented is served).
 *
 * Source: the Neon API OpenAPI 3.0.3 document, `info.version: v2`, server
 * https://console.neon.tech/api/v2, as published in the npm package @neondatabase/api-client
 * 2.7.3 (file public-v2-for-users.gen.yaml), cross-read with the API reference pages
 * https://neon.com/docs/reference/api/endpoints/get-project-endpoint,
 * …/projects/get-project, …/operations/list-project-operations and
 * …/consumption/get-consumption-history-per-project-v2 (operationIds getProjectEndpoint,
 * listProjectEndpoints, getProject, listProjectOperations, getConsumptionHistoryPerProjectV2).
 * Checked 2026-11-30. The document does not describe a Retry-After header on 429 or 503.
 */

export type Field =
  | { type: 'string'; format?: 'date-time' | 'uuid'; enum?: readonly string[]; pattern?: RegExp; nullable?: boolean }
  | { type: 'integer' | 'number'; minimum?: number; maximum?: number }
  | { type: 'boolean' }
  | { type: 'array'; items: Field | ObjectSchema }
  | ObjectSchema;

export interface ObjectSchema {
  type: 'object';
  required: readonly string[];
  properties: Record<string, Field>;
  /** documented properties beyond those listed may be present (pgpulse neither reads nor serves them) */
  open?: boolean;
}

const dateTime = { type: 'string', format: 'date-time' } as const;
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;

export const EndpointState = ['init', 'active', 'idle'] as const;

/** components.schemas.Endpoint (every required property, and the optional ones pgpulse reads) */
export const Endpoint: ObjectSchema = {
  type: 'object',
  required: [
    'host',
    'id',
    'project_id',
    'branch_id',
    'region_id',
    'autoscaling_limit_max_cu',
    'autoscaling_limit_min_cu',
    'type',
    'current_state',
    'pooler_enabled',
    'pooler_mode',
    'disabled',
    'passwordless_access',
    'creation_source',
    'created_at',
    'updated_at',
    'settings',
    'proxy_host',
    'suspend_timeout_seconds',
    'provisioner',
  ],
  properties: {
    host: str,
    id: str,
    project_id: str,
    branch_id: str,
    // ComputeUnit: number, minimum 0.25
    autoscaling_limit_min_cu: { type: 'number', minimum: 0.25 },
    autoscaling_limit_max_cu: { type: 'number', minimum: 0.25 },
    region_id: str,
    type: { type: 'string', enum: ['read_only', 'read_write'] },
    current_state: { type: 'string', enum: EndpointState },
    pending_state: { type: 'string', enum: EndpointState },
    settings: {
      type: 'object',
      required: [],
      properties: { pg_settings: { type: 'object', required: [], properties: {}, open: true } },
      open: true,
    },
    pooler_enabled: { type: 'boolean' },
    pooler_mode: { type: 'string', enum: ['transaction'] },
    disabled: { type: 'boolean' },
    passwordless_access: { type: 'boolean' },
    last_active: dateTime,
    creation_source: str,
    created_at: dateTime,
    updated_at: dateTime,
    started_at: dateTime,
    suspended_at: dateTime,
    proxy_host: str,
    // SuspendTimeoutSeconds: 0 = the default (300 s), -1 = never suspend
    suspend_timeout_seconds: { type: 'integer', minimum: -1, maximum: 604_800 },
    provisioner: str,
  },
};

/** components.schemas.Project: every required property, and org_id (optional) */
export const Project: ObjectSchema = {
  type: 'object',
  required: [
    'consumption_period_end',
    'consumption_period_start',
    'active_time_seconds',
    'compute_time_seconds',
    'written_data_bytes',
    'data_transfer_bytes',
    'data_storage_bytes_hour',
    'id',
    'platform_id',
    'region_id',
    'name',
    'pg_version',
    'proxy_host',
    'branch_logical_size_limit',
    'branch_logical_size_limit_bytes',
    'store_passwords',
    'cpu_used_sec',
    'provisioner',
    'creation_source',
    'history_retention_seconds',
    'created_at',
    'updated_at',
    'owner_id',
  ],
  properties: {
    data_storage_bytes_hour: int,
    data_transfer_bytes: int,
    written_data_bytes: int,
    compute_time_seconds: int,
    active_time_seconds: int,
    cpu_used_sec: int,
    id: str,
    platform_id: str,
    region_id: str,
    name: str,
    provisioner: str,
    default_endpoint_settings: {
      type: 'object',
      required: [],
      properties: {
        autoscaling_limit_min_cu: { type: 'number', minimum: 0.25 },
        autoscaling_limit_max_cu: { type: 'number', minimum: 0.25 },
        suspend_timeout_seconds: { type: 'integer', minimum: -1, maximum: 604_800 },
      },
      open: true,
    },
    pg_version: int,
    proxy_host: str,
    branch_logical_size_limit: int,
    branch_logical_size_limit_bytes: int,
    store_passwords: { type: 'boolean' },
    creation_source: str,
    history_retention_seconds: int,
    created_at: dateTime,
    updated_at: dateTime,
    synthetic_storage_size: int,
    consumption_period_start: dateTime,
    consumption_period_end: dateTime,
    quota_reset_at: dateTime, // deprecated in the document, still listed
    owner_id: str,
    compute_last_active_at: dateTime,
    org_id: str,
  },
};

export const OperationAction = [
  'create_compute',
  'create_timeline',
  'start_compute',
  'suspend_compute',
  'apply_config',
  'check_availability',
  'delete_timeline',
  'create_branch',
  'import_data',
  'tenant_ignore',
  'tenant_attach',
  'tenant_detach',
  'tenant_reattach',
  'replace_safekeeper',
  'disable_maintenance',
  'apply_storage_config',
  'prepare_secondary_pageserver',
  'switch_pageserver',
  'detach_parent_branch',
  'timeline_archive',
  'timeline_unarchive',
  'start_reserved_compute',
  'sync_dbs_and_roles_from_compute',
  'apply_schema_from_branch',
  'timeline_mark_invisible',
  'timeline_update_protected_config',
  'prewarm_replica',
  'promote_replica',
  'set_storage_non_dirty',
  'swap_binding_id',
  'finalize_migration',
  'mark_migration_prepared',
  'update_catalog',
] as const;
export const OperationStatus = [
  'scheduling',
  'running',
  'finished',
  'failed',
  'error',
  'cancelling',
  'cancelled',
  'skipped',
] as const;

/** components.schemas.Operation */
export const Operation: ObjectSchema = {
  type: 'object',
  required: ['id', 'project_id', 'action', 'status', 'failures_count', 'created_at', 'updated_at', 'total_duration_ms'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    project_id: str,
    branch_id: str,
    endpoint_id: str,
    action: { type: 'string', enum: OperationAction },
    status: { type: 'string', enum: OperationStatus },
    error: str,
    failures_count: int,
    retry_at: dateTime,
    created_at: dateTime,
    updated_at: dateTime,
    total_duration_ms: int,
  },
};

const Pagination: ObjectSchema = { type: 'object', required: ['cursor'], properties: { cursor: str } };

/** components.schemas.GeneralError: the body of every error status */
export const GeneralError: ObjectSchema = {
  type: 'object',
  required: ['message', 'code'],
  properties: { request_id: str, code: str, message: str },
};

/** ConsumptionHistoryPerProjectV2Response + PaginationResponse */
export const ConsumptionV2Response: ObjectSchema = {
  type: 'object',
  required: ['projects'],
  properties: {
    projects: {
      type: 'array',
      items: {
        type: 'object',
        required: ['project_id', 'periods'],
        properties: {
          project_id: str,
          periods: {
            type: 'array',
            items: {
              type: 'object',
              required: ['period_id', 'period_plan', 'period_start', 'consumption'],
              properties: {
                period_id: { type: 'string', format: 'uuid' },
                period_plan: str,
                period_start: dateTime,
                period_end: dateTime,
                consumption: {
                  type: 'array',
                  items: {
                    type: 'object',
                    required: [],
                    properties: {
                      timeframe_start: dateTime,
                      timeframe_end: dateTime,
                      // ConsumptionMetricValue: value is an integer
                      metrics: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['metric_name', 'value'],
                          properties: { metric_name: str, value: int },
                        },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    pagination: Pagination,
  },
};

export interface OperationSpec {
  operationId: string;
  path: RegExp;
  /** query parameters the document marks required */
  requiredQuery: readonly string[];
  /** query parameters the document lists (any other is not part of the API) */
  query: readonly string[];
  ok: ObjectSchema;
  /** error statuses the document lists for this operation besides "default" (GeneralError) */
  errors: readonly number[];
}

export const operations: readonly OperationSpec[] = [
  {
    operationId: 'getProjectEndpoint',
    path: /^\/projects\/[^/]+\/endpoints\/[^/]+$/,
    requiredQuery: [],
    query: [],
    ok: { type: 'object', required: ['endpoint'], properties: { endpoint: Endpoint } },
    errors: [],
  },
  {
    operationId: 'listProjectEndpoints',
    path: /^\/projects\/[^/]+\/endpoints$/,
    requiredQuery: [],
    query: [],
    ok: { type: 'object', required: ['endpoints'], properties: { endpoints: { type: 'array', items: Endpoint } } },
    errors: [],
  },
  {
    operationId: 'getProject',
    path: /^\/projects\/[^/]+$/,
    requiredQuery: [],
    query: [],
    ok: { type: 'object', required: ['project'], properties: { project: Project } },
    errors: [],
  },
  {
    operationId: 'listProjectOperations',
    path: /^\/projects\/[^/]+\/operations$/,
    requiredQuery: [],
    query: ['cursor', 'limit'],
    ok: {
      type: 'object',
      required: ['operations'],
      properties: { operations: { type: 'array', items: Operation }, pagination: Pagination },
    },
    errors: [],
  },
  {
    operationId: 'getConsumptionHistoryPerProjectV2',
    path: /^\/consumption_history\/v2\/projects$/,
    requiredQuery: ['from', 'to', 'granularity', 'org_id', 'metrics'],
    query: ['cursor', 'limit', 'project_ids', 'from', 'to', 'granularity', 'org_id', 'metrics'],
    ok: ConsumptionV2Response,
    errors: [403, 404, 406, 429],
  },
];

/** ConsumptionHistoryGranularity, and how far back each may reach (the parameter descriptions) */
export const granularityLimitMs = {
  hourly: 168 * 3_600_000,
  daily: 60 * 86_400_000,
  monthly: 365 * 86_400_000,
} as const;
/** the metrics parameter's supported values for v2 */
export const consumptionV2Metrics = [
  'compute_unit_seconds',
  'root_branch_bytes_month',
  'child_branch_bytes_month',
  'instant_restore_bytes_month',
  'public_network_transfer_bytes',
  'private_network_transfer_bytes',
  'extra_branches_month',
  'snapshot_storage_bytes_month',
] as const;

/** every way `value` breaks `schema`, as "path: problem" lines (empty when it conforms) */
export function violations(value: unknown, schema: Field, path = '$'): string[] {
  if (value === null) {
    return 'nullable' in schema && schema.nullable ? [] : [`${path}: null is not allowed`];
  }
  switch (schema.type) {
    case 'string': {
      if (typeof value !== 'string') {
        return [`${path}: expected a string, got ${JSON.stringify(value)}`];
      }
      const out: string[] = [];
      if (schema.format === 'date-time' && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value)) {
        out.push(`${path}: not an RFC 3339 date-time: ${value}`);
      }
      if (schema.format === 'uuid' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value)) {
        out.push(`${path}: not a UUID: ${value}`);
      }
      if (schema.enum && !schema.enum.includes(value)) {
        out.push(`${path}: ${value} is not one of ${schema.enum.join(', ')}`);
      }
      if (schema.pattern && !schema.pattern.test(value)) {
        out.push(`${path}: ${value} does not match ${schema.pattern}`);
      }
      return out;
    }
    case 'integer':
    case 'number': {
      if (
        typeof value !== 'number' ||
        !Number.isFinite(value) ||
        (schema.type === 'integer' && !Number.isInteger(value))
      ) {
        return [
          `${path}: expected ${schema.type === 'integer' ? 'an integer' : 'a number'}, got ${JSON.stringify(value)}`,
        ];
      }
      if (
        (schema.minimum !== undefined && value < schema.minimum) ||
        (schema.maximum !== undefined && value > schema.maximum)
      ) {
        return [`${path}: ${value} outside [${schema.minimum ?? '-∞'}, ${schema.maximum ?? '∞'}]`];
      }
      return [];
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean, got ${JSON.stringify(value)}`];
    case 'array':
      return Array.isArray(value)
        ? value.flatMap((v, i) => violations(v, schema.items, `${path}[${i}]`))
        : [`${path}: expected an array`];
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        return [`${path}: expected an object`];
      }
      const o = value as Record<string, unknown>;
      const out = schema.required.filter((k) => !(k in o)).map((k) => `${path}: required property ${k} is missing`);
      for (const [k, v] of Object.entries(o)) {
        const p = schema.properties[k];
        if (p) {
          out.push(...violations(v, p, `${path}.${k}`));
        } else if (!schema.open) {
          out.push(`${path}: property ${k} is not in the document`);
        }
      }
      return out;
    }
  }
}
