/**
 * The orchestrator's public surface. `startStack` (everything with real clients) pulls in the
 * Kubernetes, OpenStack and injector code; the pure Tacker planner is mesh-config's
 * (`planTackerRequests` in `mesh-config/tacker.ts`: render uses it without loading any client).
 */
export { loadConfig, parseTokens, ROLES, type OrchestratorConfig, type ConfigFlags, type ConfigSources, type ApiToken, type Role } from './config.js';
export { createApp, parseBody, type ApiDeps, type ApiMount, type ApiMountHelpers } from './api/app.js';
export { createOrchestrator, type Orchestrator, type OrchestratorDeps, type OrchestratorSettings } from './orchestrator.js';
export { startStack, type Stack, type StackOptions, type StackExtension } from './stack.js';
export { createGenerators } from './generators.js';
export { kubePort, tackerPort, httpInjector } from './wiring.js';
export { ServiceManager, OperationLog, type Accepted, type Plan, type PlanChange } from './services.js';
export { CallbackAuthority, generateCredentials } from './callbacks.js';
export { createMetrics, type OrchestratorMetrics } from './metrics.js';
export * from './ports.js';
