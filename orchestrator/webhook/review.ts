/**
 * The answer to one `admission.k8s.io/v1` AdmissionReview of a MeshService: the descriptor's full
 * validation (schema, defaults, rules 1–12), exactly what `mixmesh validate` runs, so a bad
 * MeshService is refused by `kubectl apply` (and its dry run) with the same pointer lines instead
 * of being stored and failing later as Valid=False. Pure.
 */
import { descriptorFromResource, validateDescriptor } from '../../descriptor/index.js';

export interface AdmissionReviewAnswer {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: { uid: string; allowed: boolean; status?: { code: number; reason: string; message: string } };
}

export function reviewMeshService(review: unknown, options: { istioVersion: string }): AdmissionReviewAnswer {
  const request = (review && typeof review === 'object' ? (review as Record<string, unknown>).request : undefined) as Record<string, unknown> | undefined;
  const uid = typeof request?.uid === 'string' ? request.uid : '';
  const answer = (allowed: boolean, message?: string, code = 403, reason = 'Forbidden'): AdmissionReviewAnswer => ({
    apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview',
    response: { uid, allowed, ...(allowed ? {} : { status: { code, reason, message: message ?? '' } }) },
  });
  if (!request || !uid) return answer(false, 'not an admission.k8s.io/v1 AdmissionReview with request.uid', 400, 'BadRequest');
  const kind = request.kind as { group?: string; kind?: string } | undefined;
  if (kind?.group !== 'mixmesh.io' || kind.kind !== 'MeshService') return answer(true);
  if (request.operation !== 'CREATE' && request.operation !== 'UPDATE') return answer(true);
  const object = request.object as Record<string, unknown> | undefined;
  // a MeshService being deleted may lose its finalizer whatever its spec says
  if ((object?.metadata as Record<string, unknown> | undefined)?.deletionTimestamp) return answer(true);
  const result = validateDescriptor(descriptorFromResource(object), { istioVersion: options.istioVersion });
  if (result.ok) return answer(true);
  return answer(false, result.problems.map((p) => `${p.pointer}: ${p.message}`).join('\n'));
}
