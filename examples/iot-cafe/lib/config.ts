/**
 * Each café service's configuration, read once from the environment at start-up (in Kubernetes the
 * Deployment's env and the `inventory-db` Secret; locally `npm run cafe` sets it). Nothing else in
 * the café reads `process.env`.
 */
export interface CafeConfig {
  /** which service this process is, for logs and the replica tag on orders */
  service: string;
  host: string;
  port: number;
  /** pod name (HOSTNAME) or a local label: shown on the kitchen display as "taken by" */
  replica: string;
  db: { host: string; port: number; database: string; user: string; password: string; connectionLimit: number; writers: number };
  /** order-api → kitchen-display; kitchen-display → order-api */
  kitchenUrl: string;
  orderApiUrl: string;
  /** staff actions (kitchen advance buttons, device commands) need it as a bearer token */
  staffToken: string;
  /** kitchen-display: how often it re-reads the active orders from order-api */
  kitchenResyncMs: number;
  logLevel: string;
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${name}=${raw}: expected an integer from ${min} to ${max}`);
  return n;
}

export function loadConfig(service: string, env: NodeJS.ProcessEnv = process.env, needs: { db?: boolean; staffToken?: boolean } = {}): Readonly<CafeConfig> {
  const password = env.DB_PASSWORD ?? '';
  if (needs.db && !password) throw new ConfigError('DB_PASSWORD is not set (in Kubernetes it comes from the inventory-db Secret)');
  const staffToken = env.CAFE_STAFF_TOKEN ?? '';
  if (needs.staffToken && staffToken.length < 12) throw new ConfigError('CAFE_STAFF_TOKEN is not set or shorter than 12 characters (in Kubernetes it comes from the cafe-staff Secret)');
  return Object.freeze({
    service,
    host: env.HOST ?? '0.0.0.0',
    port: int(env, 'PORT', 8080, 1, 65535),
    replica: env.REPLICA ?? env.HOSTNAME ?? service,
    db: Object.freeze({
      host: env.DB_HOST ?? 'inventory-db',
      port: int(env, 'DB_PORT', 3306, 1, 65535),
      database: env.DB_NAME ?? 'cafe',
      user: env.DB_USER ?? 'cafe',
      password,
      connectionLimit: int(env, 'DB_POOL_SIZE', 20, 1, 500),
      // order-api: transactions of new orders on their way at once (each carries every order queued meanwhile;
      // fewer and larger batches cost the database less per order)
      writers: int(env, 'DB_WRITERS', 2, 1, 64),
    }),
    kitchenUrl: (env.KITCHEN_URL ?? 'http://kitchen-display:8080').replace(/\/$/, ''),
    orderApiUrl: (env.ORDER_API_URL ?? 'http://order-api:8080').replace(/\/$/, ''),
    staffToken,
    kitchenResyncMs: int(env, 'KITCHEN_RESYNC_MS', 5000, 100, 600_000),
    logLevel: env.LOG_LEVEL ?? 'info',
  });
}
