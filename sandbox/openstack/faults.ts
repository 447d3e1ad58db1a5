/**
 * Fault injection for tests (docs/sandbox.md): fail the next N operations (FAILED_TEMP with a given
 * error, or a failed grant → ROLLED_BACK), delay them, drop/duplicate/reorder notifications, expire
 * tokens, make new VMs' sshd slow. Set through the admin route `/_sandbox/faults`.
 */
import { HttpProblem, type ProblemDetails } from './http-util.js';

export type FaultOperation = 'INSTANTIATE' | 'TERMINATE';

export interface FailFault {
  operation: FaultOperation;
  remaining: number;
  /** processing: FAILED_TEMP after PROCESSING; grant: STARTING → ROLLED_BACK */
  stage: 'processing' | 'grant';
  error: ProblemDetails;
}

export interface Faults {
  fail: FailFault[];
  delayMs: Partial<Record<FaultOperation, number>>;
  slowSshdMs: number | undefined;
}

export function emptyFaults(): Faults {
  return { fail: [], delayMs: {}, slowSshdMs: undefined };
}

/** Take one failure for this operation and stage, if any is armed. */
export function takeFailure(f: Faults, operation: string, stage: FailFault['stage']): ProblemDetails | undefined {
  const hit = f.fail.find((x) => x.operation === operation && x.stage === stage && x.remaining > 0);
  if (!hit) return undefined;
  hit.remaining--;
  if (hit.remaining === 0) f.fail.splice(f.fail.indexOf(hit), 1);
  return hit.error;
}

const OPS: readonly FaultOperation[] = ['INSTANTIATE', 'TERMINATE'];

function nonNegInt(v: unknown, where: string, max = 1_000_000): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new HttpProblem(400, `${where} must be an integer 0..${max}, got ${JSON.stringify(v)}`);
  return v;
}

function op(v: unknown, where: string): FaultOperation {
  const o = v ?? 'INSTANTIATE';
  if (!OPS.includes(o as FaultOperation)) throw new HttpProblem(400, `${where} must be one of ${OPS.join(', ')}, got ${JSON.stringify(v)}`);
  return o as FaultOperation;
}

export interface FaultRequest {
  fail?: { operation: FaultOperation; count: number; stage: FailFault['stage']; error: ProblemDetails };
  delay?: { operation: FaultOperation; ms: number };
  notifications?: { drop?: number; duplicate?: number; reorder?: number };
  expireTokens?: { tokens?: string[]; all?: boolean };
  slowSshd?: { ms: number };
}

/** Validate a POST /_sandbox/faults body; nothing is applied when any part is wrong. */
export function parseFaultRequest(body: Record<string, unknown>): FaultRequest {
  const known = ['fail', 'delay', 'notifications', 'expireTokens', 'slowSshd'];
  for (const k of Object.keys(body)) if (!known.includes(k)) throw new HttpProblem(400, `unknown fault "${k}" (known: ${known.join(', ')})`);
  const out: FaultRequest = {};
  const obj = (v: unknown, where: string): Record<string, unknown> => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new HttpProblem(400, `${where} must be an object`);
    return v as Record<string, unknown>;
  };
  if (body.fail !== undefined) {
    const f = obj(body.fail, 'fail');
    const stage = f.stage ?? 'processing';
    if (stage !== 'processing' && stage !== 'grant') throw new HttpProblem(400, `fail.stage must be processing or grant, got ${JSON.stringify(f.stage)}`);
    const e = f.error === undefined ? {} : obj(f.error, 'fail.error');
    const status = e.status === undefined ? 500 : nonNegInt(e.status, 'fail.error.status', 599);
    out.fail = {
      operation: op(f.operation, 'fail.operation'),
      count: f.count === undefined ? 1 : nonNegInt(f.count, 'fail.count'),
      stage,
      error: {
        status,
        title: typeof e.title === 'string' ? e.title : 'Injected failure',
        detail: typeof e.detail === 'string' ? e.detail : 'failure injected by the sandbox',
      },
    };
  }
  if (body.delay !== undefined) {
    const d = obj(body.delay, 'delay');
    out.delay = { operation: op(d.operation, 'delay.operation'), ms: nonNegInt(d.ms, 'delay.ms', 3_600_000) };
  }
  if (body.notifications !== undefined) {
    const n = obj(body.notifications, 'notifications');
    for (const k of Object.keys(n)) if (!['drop', 'duplicate', 'reorder'].includes(k)) throw new HttpProblem(400, `notifications.${k} is unknown (known: drop, duplicate, reorder)`);
    out.notifications = {
      drop: n.drop === undefined ? undefined : nonNegInt(n.drop, 'notifications.drop'),
      duplicate: n.duplicate === undefined ? undefined : nonNegInt(n.duplicate, 'notifications.duplicate'),
      reorder: n.reorder === undefined ? undefined : nonNegInt(n.reorder, 'notifications.reorder'),
    };
  }
  if (body.expireTokens !== undefined) {
    const t = obj(body.expireTokens, 'expireTokens');
    if (t.all !== undefined && typeof t.all !== 'boolean') throw new HttpProblem(400, 'expireTokens.all must be a boolean');
    if (t.tokens !== undefined && (!Array.isArray(t.tokens) || t.tokens.some((x) => typeof x !== 'string'))) throw new HttpProblem(400, 'expireTokens.tokens must be an array of strings');
    if (!t.all && !Array.isArray(t.tokens)) throw new HttpProblem(400, 'expireTokens needs tokens: [...] or all: true');
    out.expireTokens = { tokens: t.tokens as string[] | undefined, all: t.all as boolean | undefined };
  }
  if (body.slowSshd !== undefined) {
    const s = obj(body.slowSshd, 'slowSshd');
    out.slowSshd = { ms: nonNegInt(s.ms, 'slowSshd.ms', 3_600_000) };
  }
  return out;
}
