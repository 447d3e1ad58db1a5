/**
 * The pure parts of other folders, gathered behind the Generators seam: descriptor/ (parse,
 * validate), mesh-config/ (renderAll), the Tacker planner. The mesh values come from configuration.
 */
import { parseDescriptorText, validateDescriptor } from '../descriptor/index.js';
import { buildContext, renderAll, renderNamespace } from '../mesh-config/index.js';
import type { MeshValues } from '../descriptor/index.js';
import { planTackerRequests } from '../mesh-config/index.js';
import type { Generators, KubeObject } from './ports.js';

export function createGenerators(values: MeshValues, options: { bodyLimitBytes?: number; crd?: () => KubeObject } = {}): Generators {
  return {
    parse: (text) => parseDescriptorText(text, options.bodyLimitBytes ? { maxBytes: options.bodyLimitBytes } : {}),
    validate: (input) => validateDescriptor(input, { istioVersion: values.istioVersion }),
    render: (service) => renderAll(service, values) as KubeObject[],
    namespace: (service) => renderNamespace(buildContext(service, values)) as KubeObject,
    planTacker: (service) => planTackerRequests(service, values),
    ...(options.crd ? { crd: options.crd } : {}),
  };
}
