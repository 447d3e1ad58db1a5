/**
 * Errors are values with stable codes. Every code is listed in docs/errors.md;
 * common/errors.test.ts keeps the two in agreement.
 */
export const ERROR_CODES = {
  CONFIG_INVALID: 2,
  USAGE: 2,
  DESCRIPTOR_INVALID: 400,
  DESCRIPTOR_UNREADABLE: 400,
  BAD_REQUEST: 400,
  INSECURE_TRANSPORT: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NAMESPACE_PROTECTED: 403,
  SERVICE_ACCOUNT_FOREIGN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  ALREADY_EXISTS: 409,
  NAME_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PREFLIGHT_FAILED: 422,
  OPENSTACK_NOT_CONFIGURED: 422,
  MESH_CONFIG_INVALID: 500,
  INTERNAL: 500,
  K8S_REQUEST_FAILED: 502,
  K8S_APPLY_FAILED: 502,
  K8S_WAIT_TIMEOUT: 504,
  KEYSTONE_AUTH_FAILED: 502,
  TACKER_REQUEST_FAILED: 502,
  TACKER_OPERATION_FAILED: 502,
  TACKER_OPERATION_TIMEOUT: 504,
  NOVA_REQUEST_FAILED: 502,
  VNF_SHAPE_UNSUPPORTED: 422,
  SSH_CONNECT_FAILED: 502,
  SSH_AUTH_FAILED: 502,
  SSH_HOST_KEY_MISMATCH: 502,
  SSH_HOST_KEY_UNKNOWN: 502,
  SSH_COMMAND_FAILED: 502,
  SIDECAR_PACKAGE_FAILED: 502,
  SIDECAR_VERSION_MISMATCH: 502,
  SIDECAR_NOT_READY: 504,
  TOKEN_EXPIRED: 502,
  INJECTION_FAILED: 502,
  INJECTION_TIMEOUT: 504,
  BACKUP_NOT_FOUND: 404,
  BACKUP_INCOMPLETE: 409,
  BACKUP_SIGNATURE_INVALID: 422,
  BACKUP_INTEGRITY: 422,
  BACKUP_KEY_MISSING: 422,
  BACKUP_KEY_INVALID: 422,
  BACKUP_STORE_FAILED: 502,
  BACKUP_CANCELLED: 409,
  RESTORE_PREFLIGHT_FAILED: 422,
  MIGRATE_TARGET_UNKNOWN: 422,
  MIGRATE_NO_BACKUP: 422,
  MIGRATE_PREFLIGHT_FAILED: 422,
  MIGRATE_WORKER_FAILED: 502,
  MIGRATE_JOIN_FAILED: 502,
  MIGRATE_RESTORE_FAILED: 502,
  SANDBOX_NOT_ROOT: 2,
  SANDBOX_MISSING_PACKAGES: 2,
  SANDBOX_PORT22_BUSY: 2,
  SANDBOX_DOCKER_FAILED: 2,
  GATEWAY_PROVIDER_NOT_CONFIGURED: 422,
  GATEWAY_CLUSTER_NOT_READY: 409,
  GATEWAY_PROVISION_FAILED: 502,
  GATEWAY_PROVISION_TIMEOUT: 504,
  GATEWAY_INSTALL_FAILED: 502,
  GATEWAY_ENGINE_FAILED: 502,
  GATEWAY_NOT_SUPPORTED: 422,
  EC2_REQUEST_FAILED: 502,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * problem+json `title`s (RFC 9457: a short, human-readable summary of the problem type, the same
 * for every occurrence). A code without an entry gets its words as a sentence (problemTitle).
 */
const ERROR_TITLES: Partial<Record<string, string>> = {
  CONFIG_INVALID: 'The configuration is missing or wrong.',
  USAGE: 'The command line is wrong.',
  DESCRIPTOR_INVALID: 'The descriptor is not valid.',
  DESCRIPTOR_UNREADABLE: 'The descriptor cannot be read as YAML or JSON.',
  BAD_REQUEST: 'The request is not valid.',
  UNAUTHORIZED: 'A valid token is required.',
  FORBIDDEN: 'Your role may not do this.',
  NOT_FOUND: 'Not found.',
  ALREADY_EXISTS: 'It already exists.',
  NAME_CONFLICT: 'A generated name is taken by an object that belongs to someone else.',
  PAYLOAD_TOO_LARGE: 'The request body is too large.',
  UNSUPPORTED_MEDIA_TYPE: 'The request body has an unsupported media type.',
  PREFLIGHT_FAILED: 'The descriptor names OpenStack or Kubernetes resources that are missing or unusable.',
  OPENSTACK_NOT_CONFIGURED: 'OpenStack is not configured.',
  MESH_CONFIG_INVALID: 'A generated mesh object is not valid.',
  INTERNAL: 'Internal error.',
  K8S_REQUEST_FAILED: 'A Kubernetes API request failed.',
  K8S_APPLY_FAILED: 'Applying an object to Kubernetes failed.',
  K8S_WAIT_TIMEOUT: 'A workload did not become ready in time.',
  KEYSTONE_AUTH_FAILED: 'Keystone authentication failed.',
  TACKER_REQUEST_FAILED: 'A Tacker API request failed.',
  TACKER_OPERATION_FAILED: 'A Tacker lifecycle operation failed.',
  TACKER_OPERATION_TIMEOUT: 'A Tacker lifecycle operation did not finish in time.',
  NOVA_REQUEST_FAILED: 'A Nova API request failed.',
  VNF_SHAPE_UNSUPPORTED: 'The VNF instance does not have exactly one VM.',
  SSH_CONNECT_FAILED: 'The VM could not be reached over SSH.',
  SSH_AUTH_FAILED: 'The VM refused the SSH credentials.',
  SSH_HOST_KEY_MISMATCH: 'The VM offered an unexpected SSH host key.',
  SSH_HOST_KEY_UNKNOWN: 'The VM\'s SSH host key is not known.',
  SSH_COMMAND_FAILED: 'A command on the VM failed.',
  SIDECAR_PACKAGE_FAILED: 'The sidecar package could not be installed.',
  SIDECAR_VERSION_MISMATCH: 'The installed sidecar has another Istio version.',
  SIDECAR_NOT_READY: 'The sidecar did not become ready.',
  TOKEN_EXPIRED: 'The sidecar\'s token expired.',
  INJECTION_FAILED: 'The sidecar injection failed.',
  INJECTION_TIMEOUT: 'The sidecar injection did not finish in time.',
};

/** the problem `title` for a code: a sentence, never the code itself */
export function problemTitle(code: string): string {
  const title = ERROR_TITLES[code];
  if (title) return title;
  const words = code.toLowerCase().split('_').join(' ');
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}.`;
}

export interface ProblemItem {
  /** JSON pointer into the input, "" for the whole document */
  pointer: string;
  message: string;
}

export interface MixmeshErrorOptions {
  /** HTTP status; defaults to the code's status (or 500 for CLI-only codes) */
  status?: number;
  /** per-problem list, e.g. descriptor validation problems */
  errors?: ProblemItem[];
  /** extra machine-readable context; never secrets */
  details?: Record<string, unknown>;
  cause?: unknown;
}

export class MixmeshError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: ProblemItem[] | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: MixmeshErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MixmeshError';
    this.code = code;
    const defaultStatus = ERROR_CODES[code];
    this.status = options.status ?? (defaultStatus >= 100 ? defaultStatus : 500);
    this.errors = options.errors;
    this.details = options.details;
  }
}

export function isMixmeshError(e: unknown, code?: ErrorCode): e is MixmeshError {
  return e instanceof MixmeshError && (code === undefined || e.code === code);
}

/** Wrap an upstream failure with context, keeping the cause. */
export function wrapError(code: ErrorCode, context: string, cause: unknown, options: Omit<MixmeshErrorOptions, 'cause'> = {}): MixmeshError {
  if (cause instanceof MixmeshError) {
    return new MixmeshError(cause.code, `${context}: ${cause.message}`, { status: cause.status, errors: cause.errors, details: cause.details, cause });
  }
  const text = cause instanceof Error ? cause.message : String(cause);
  return new MixmeshError(code, `${context}: ${text}`, { ...options, cause });
}

/** RFC 9457 problem+json body for an error. 5xx bodies say little; the log says everything. */
export function toProblem(e: unknown): Record<string, unknown> {
  if (e instanceof MixmeshError) {
    const body: Record<string, unknown> = {
      type: `https://mixmesh.io/errors/${e.code}`,
      title: problemTitle(e.code),
      status: e.status,
      detail: e.status >= 500 && !e.code.startsWith('TACKER') && !e.code.startsWith('SSH') ? 'internal error; see the server log' : e.message,
      code: e.code,
    };
    if (e.errors) body.errors = e.errors;
    return body;
  }
  return { type: 'https://mixmesh.io/errors/INTERNAL', title: problemTitle('INTERNAL'), status: 500, detail: 'internal error; see the server log', code: 'INTERNAL' };
}
