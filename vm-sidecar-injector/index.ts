/** The VM Sidecar Injector's public surface. Other parts import only from here. */
/** the pure bundle alone (no service dependencies): vm-sidecar-injector/bundle/index.ts */
export * from './bundle/index.js';
export { Injector, type Injection, type InjectionRequest, type InjectionState, type InjectorDeps, type SidecarState, type ConnectTarget, type ConnectedShell, type NovaLike } from './injector.js';
export type { InjectorCluster, IssuedToken, MeshServiceLike } from './cluster.js';
export { kubeCluster } from './cluster-kube.js';
export { sshConnector, parseConsoleHostKeys } from './shell.js';
export { runInstall, runUninstall, runReplaceToken, type StepRecord, type ArtifactSource, type InstallPlan } from './steps.js';
export { createInjectorApp, injectionView, type InjectorAppDeps, type NotificationMode } from './api/app.js';
export { parseInjectionRequest } from './api/request.js';
export { readInjectorConfig, type InjectorConfig, type InjectorFlags } from './config.js';
export { startInjector, notificationHandler, type RunningInjector, type StartInjectorOptions } from './server.js';
export type { InjectionError, InjectionRequestBody, InjectionView } from './api/wire.js';
