/** migrate/: a lost worker node's or a service's workloads moved to another cloud (backup.md, "Migration"). */
export { MIGRATION_LABEL, STEPS, chooseBackup, planMigration, rollback, runMigration, workerNames, type MigrationDeps, type MigrationReport, type MigrationSpec, type MigrationStatus, type PlanResult, type Target, type TargetTacker } from './engine.js';
export { autoName, checkMigrationName, createMigrationService, decideAuto, migrationCrd, type AutoInput, type AutoPolicy, type MigrationService, type MigrationServiceDeps } from './service.js';
export { loadTargetsFile, openTarget, parseTargets, type TargetConfig } from './targets.js';
