/**
 * What the leader-only runners beside the orchestrator share (backup's, migrate's): one pass at a
 * time every `pollMs` while this process leads; a graceful stop that waits for the pass under way
 * and leaves runs as they are recorded (the next leader resumes them); and the guard of their
 * routes, which span namespaces and nodes.
 */
import type { NextFunction, Request, Response } from 'express';
import { MixmeshError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';

export interface LeaderLoop {
  /** passes every pollMs; each acts only while isLeader() */
  start(isLeader: () => boolean): void;
  /** one pass now (a pass under way is joined, not doubled) */
  tick(): Promise<void>;
  /** set once stop() was called: runs stop at their next checkpoint and stay resumable */
  readonly stopping: boolean;
  stop(): Promise<void>;
}

export function createLeaderLoop(pass: () => Promise<void>, options: { pollMs: number; what: string; log?: Logger }): LeaderLoop {
  const log = options.log ?? silentLogger;
  let leader: () => boolean = () => false;
  let timer: NodeJS.Timeout | undefined;
  let ticking: Promise<void> | undefined;
  let stopping = false;
  const tick = (): Promise<void> => {
    if (!leader() || stopping) return Promise.resolve();
    ticking ??= pass()
      .catch((e: unknown) => log.warn({ err: e instanceof Error ? e.message : String(e) }, `${options.what} runner pass failed`))
      .finally(() => { ticking = undefined; });
    return ticking;
  };
  return {
    start(isLeader) {
      leader = isLeader;
      const loop = () => {
        timer = setTimeout(() => void tick().finally(loop), options.pollMs);
        timer.unref();
      };
      loop();
    },
    tick,
    get stopping() { return stopping; },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await ticking;
    },
  };
}

/** Express guard: a token limited to namespaces may not use routes that span namespaces and nodes. */
export function unlimitedCallers(what: string): (req: Request, res: Response, next: NextFunction) => void {
  return (_req, res, next) => {
    const limited = (res.locals.caller as { namespaces?: readonly string[] } | undefined)?.namespaces;
    if (limited && limited.length) throw new MixmeshError('FORBIDDEN', `${what} span namespaces and nodes: a token limited to namespaces may not use them`);
    next();
  };
}
