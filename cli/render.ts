import { MixmeshError } from '../common/errors.js';

/** `mixmesh render`: not built yet (see the open issues). */
export async function runRender(..._args: unknown[]): Promise<number> {
  throw new MixmeshError('USAGE', '`mixmesh render` is not built yet');
}
