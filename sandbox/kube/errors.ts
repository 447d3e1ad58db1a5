/** Kubernetes `Status` failures, thrown inside the emulator and rendered as the API server does. */
import type { Cause } from './schema.js';
import type { Obj, ResourceInfo } from './resources.js';

export class ApiError extends Error {
  constructor(readonly code: number, readonly reason: string, message: string, readonly details?: Obj) {
    super(message);
  }

  toStatus(): Obj {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, ...(this.details ? { details: this.details } : {}), code: this.code };
  }
}

/** `deployments.apps`, `configmaps` */
export function qualified(r: ResourceInfo): string {
  return r.group === '' ? r.plural : `${r.plural}.${r.group}`;
}

export function notFound(r: ResourceInfo, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, group: r.group, kind: r.plural });
}

export function alreadyExists(r: ResourceInfo, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, { name, group: r.group, kind: r.plural });
}

export function conflict(r: ResourceInfo, name: string): ApiError {
  return new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: r.group, kind: r.plural });
}

export function invalid(r: ResourceInfo, name: string, causes: Cause[]): ApiError {
  const lines = causes.map((c) => (c.field ? `${c.field}: ${c.message}` : c.message));
  const text = lines.length === 1 ? lines[0] : `[${lines.join(', ')}]`;
  const kindName = r.group === '' ? r.kind : `${r.kind}.${r.group}`;
  return new ApiError(422, 'Invalid', `${kindName} "${name}" is invalid: ${text}`, { name, group: r.group, kind: r.kind, causes });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}
