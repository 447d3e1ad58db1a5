import { MixmeshError } from '../common/errors.js';

/** `mixmesh sandbox`: not built yet (see the open issues). */
export async function runSandbox(..._args: unknown[]): Promise<number> {
  throw new MixmeshError('USAGE', '`mixmesh sandbox` is not built yet');
}
