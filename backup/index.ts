/** backup/: export, archive, restore, stores, schedules (backup.md). */
export { BackupReader, BackupWriter, ResourceTar, backupPrefix, checkBackupName, deleteBackup, listBackups } from './archive.js';
export { runBackup, type BackupDeps, type BackupRequest, type Progress } from './capture.js';
export { generateStoreKeys, keyId, parseKek, parsePublicKey, parseSigningKey, type StoreKeys } from './crypto.js';
export { SshNodeAccess, type NodeAccess, type NodeTarget } from './nodes.js';
export { writeDataDir, type WriteBack } from './writeback.js';
export type { BackupKube, Checkpointer, NodeResolver, PodExec } from './ports.js';
export { RESTORE_DATA_CONCURRENCY, restoreBackup, type ConflictPolicy, type RestoreDeps, type RestoreRequest, type RestoreResult, type RestoreRunOptions, type VmHandoff, type VmMatch } from './restore.js';
export { select, type SelectionResult, type VmTarget } from './select.js';
export { API_VERSION as BACKUP_API_VERSION, backupCrds, createBackupService, parseCron, parseDuration, type BackupService, type BackupServiceConfig, type RouteHelpers } from './service.js';
export { openStore, s3OptionsFromEnv, type ObjectStore, type S3StoreOptions, type StoreConfig } from './stores.js';
export { parsePairs, type Mappings } from './transform.js';
export type { Manifest, Selection } from './types.js';
export { KubeNodeResolver, KubeletCheckpointer, keysFromDir, keysFromSecret, parseKnownHosts } from './wiring.js';
export type { RestoreStateResult } from './state.js';
