/**
 * A synthetic service of n microservices (every third on a VM), each calling the next two, with
 * an ingress: for the console's render-time measurements (browser e2e test and `bench console`).
 */
export function bigDescriptor(n: number, name = 'big', namespace = 'big'): string {
  const ms = Array.from({ length: n }, (_, i) => i % 3 === 2
    ? { name: `ms-${i}`, runtime: 'vm', ports: [{ name: 'http', port: 8080 }], vm: { vnfdId: '6a4b5a1e-0000-4000-8000-000000000001', flavourId: 'simple', ssh: { user: 'root', credentialsSecret: 'vm-ssh', hostKey: 'console' } } }
    : { name: `ms-${i}`, runtime: 'container', ports: [{ name: 'http', port: 8080 }], container: { image: `ghcr.io/example/ms-${i}:1.0.0` } });
  const connections = ms.flatMap((_, i) => [i + 1, i + 2].filter((j) => j < n).map((j) => ({ from: `ms-${i}`, to: `ms-${j}`, timeout: '2s', ...(j === i + 1 ? { retries: { attempts: 2, perTryTimeout: '500ms' } } : {}) })));
  return JSON.stringify({
    apiVersion: 'mixmesh.io/v1alpha1', kind: 'MeshService', metadata: { name, namespace },
    spec: { microservices: ms, connections: [{ from: 'ingress', to: 'ms-0' }, ...connections], ingress: { host: `${name}.example.com`, routes: [{ pathPrefix: '/', to: 'ms-0' }] } },
  }, null, 1);
}
