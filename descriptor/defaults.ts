/**
 * Defaults the descriptor's own rules apply that the mesh values share. They live here, below
 * mesh-config, so the import graph runs one way (docs/adr/0004-import-direction.md):
 * mesh-config's DEFAULT_MESH_VALUES takes them from here, never the other way round.
 */

/** The Istio (sidecar) version a VM gets when neither the descriptor nor the mesh values say. */
export const DEFAULT_ISTIO_VERSION = '1.30.3';
