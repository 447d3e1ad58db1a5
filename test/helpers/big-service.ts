/**
 * A synthetic service of n microservices (every third on a VM) calling each other as a tree
 * (i calls 2i+1 and 2i+2) with a cross link from every fifth to its neighbour, and an ingress: for the console's render-time measurements (browser e2e test and `bench console`).
 */
export function bigDescriptor(n: number, name = 'big', namespace = 'big'): string {
  const ms = Array.from({ length: n }, (_, i) => i % 3 === 2
    ? { name: `ms-${i}`, runtime: 'vm', ports: [{ name: 'http', port: 8080 }], vm: { vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', flavourId: 'simple', ssh: { user: 'root', credentialsSecret: 'vm-ssh', hostKey: 'console' } } }
    : { name: `ms-${i}`, runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: `ghcr.io/example/ms-${i}:1.0.0` } });
  const callees = (i: number): number[] => [2 * i + 1, 2 * i + 2, ...(i % 5 === 4 ? [i + 1] : [])].filter((j) => j < n);
  const connections = ms.flatMap((_, i) => callees(i).map((j) => ({ from: `ms-${i}`, to: `ms-${j}`, timeout: '2s', ...(j === 2 * i + 1 ? { retries: { attempts: 2, perTryTimeout: '500ms' } } : {}) })));
  return JSON.stringify({
    apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name, namespace },
    spec: { microservices: ms, connections: [{ from: 'ingress', to: 'ms-0' }, ...connections], ingress: { host: `${name}.example.com`, routes: [{ pathPrefix: '/', to: 'ms-0' }] } },
  }, null, 1);
}
