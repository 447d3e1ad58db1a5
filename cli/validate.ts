import { MixmeshError } from '../common/errors.js';

/** `mixmesh validate`: not built yet (see the open issues). */
export async function runValidate(..._args: unknown[]): Promise<number> {
  throw new MixmeshError('USAGE', '`mixmesh validate` is not built yet');
}
