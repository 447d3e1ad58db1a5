/**
 * The shop's devices, simulated: four light zones with brightness, the air conditioner (mode and
 * temperature), the music player, the blinds and the coffee machine. The state lives in MariaDB
 * (`devices`); every change is one transaction that updates the device rows and writes an audit
 * row per changed device (`device_events`), so a restart resumes exactly where it was.
 */
import type { ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../lib/db.js';
import { AIRCON_MODES, TEMPERATURE_RANGE, type DeviceAction } from './parser.js';

export type DeviceState = Record<string, boolean | number | string>;
export interface Device { id: string; kind: string; zone: number | null; state: DeviceState; version: number; updatedAt: string }
export interface AuditEvent { id: number; deviceId: string; command: string; actor: string; before: DeviceState; after: DeviceState; at: string }

interface DeviceRow extends RowDataPacket { id: string; kind: string; zone: number | null; state: string | DeviceState; version: number; updated_at: Date }
interface EventRow extends RowDataPacket { id: number; device_id: string; command: string; actor: string; before_state: string | DeviceState; after_state: string | DeviceState; created_at: Date }

const json = (v: string | DeviceState): DeviceState => (typeof v === 'string' ? (JSON.parse(v) as DeviceState) : v);
const clamp = (n: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, n));

export function deviceIdsOf(a: DeviceAction): string[] {
  return a.device === 'light' ? a.zones!.map((z) => `light-${z}`) : [a.device];
}

/** what the physical device ends up in after an action: values clamped to what it can do */
export function applyAction(kind: string, state: DeviceState, a: DeviceAction): DeviceState {
  const next: DeviceState = { ...state, ...a.set };
  for (const [k, d] of Object.entries(a.delta ?? {})) next[k] = Number(next[k] ?? 0) + d;
  switch (kind) {
    case 'light':
      next.brightness = clamp(Number(next.brightness ?? 100), 0, 100);
      if (next.brightness === 0) { next.on = false; next.brightness = state.brightness ?? 100; }
      // turning a light on that was dimmed to nothing brings it back to a usable level
      if (next.on === true && Number(next.brightness) < 5) next.brightness = 50;
      break;
    case 'aircon':
      next.temperature = clamp(Number(next.temperature), TEMPERATURE_RANGE[0], TEMPERATURE_RANGE[1]);
      if (!(AIRCON_MODES as readonly string[]).includes(String(next.mode))) next.mode = 'auto';
      break;
    case 'music':
      next.volume = clamp(Number(next.volume), 0, 100);
      next.track = Math.max(1, Number(next.track ?? 1));
      break;
    case 'blinds':
      next.position = clamp(Number(next.position), 0, 100);
      break;
  }
  return next;
}

export class DeviceSimulator {
  constructor(private readonly pool: Pool) {}

  async list(): Promise<Device[]> {
    const [rows] = await this.pool.query<DeviceRow[]>('SELECT id, kind, zone, state, version, updated_at FROM devices ORDER BY kind, zone, id');
    return rows.map((r) => ({ id: r.id, kind: r.kind, zone: r.zone, state: json(r.state), version: r.version, updatedAt: r.updated_at.toISOString() }));
  }

  /**
   * Apply the actions in one transaction (rows locked, so two managers cannot interleave); returns
   * the devices that changed. An action that changes nothing writes nothing.
   */
  async apply(actions: readonly DeviceAction[], command: string, actor: string): Promise<Device[]> {
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const ids = [...new Set(actions.flatMap(deviceIdsOf))];
      const [rows] = await conn.query<DeviceRow[]>('SELECT id, kind, zone, state, version, updated_at FROM devices WHERE id IN (?) FOR UPDATE', [ids]);
      const current = new Map(rows.map((r) => [r.id, { ...r, state: json(r.state) }]));
      const before = new Map([...current].map(([id, r]) => [id, r.state]));
      for (const a of actions) {
        for (const id of deviceIdsOf(a)) {
          const r = current.get(id);
          if (!r) throw new Error(`device ${id} is not installed`);
          r.state = applyAction(r.kind, r.state, a);
        }
      }
      const changed: Device[] = [];
      for (const [id, r] of current) {
        if (JSON.stringify(r.state) === JSON.stringify(before.get(id))) continue;
        await conn.execute<ResultSetHeader>('UPDATE devices SET state = ?, version = version + 1 WHERE id = ?', [JSON.stringify(r.state), id]);
        await conn.execute('INSERT INTO device_events (device_id, command, actor, before_state, after_state) VALUES (?, ?, ?, ?, ?)', [id, command, actor, JSON.stringify(before.get(id)), JSON.stringify(r.state)]);
        changed.push({ id, kind: r.kind, zone: r.zone, state: r.state, version: r.version + 1, updatedAt: new Date().toISOString() });
      }
      await conn.commit();
      return changed;
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  async audit(limit = 20): Promise<AuditEvent[]> {
    const [rows] = await this.pool.query<EventRow[]>('SELECT id, device_id, command, actor, before_state, after_state, created_at FROM device_events ORDER BY id DESC LIMIT ?', [limit]);
    return rows.map((r) => ({ id: r.id, deviceId: r.device_id, command: r.command, actor: r.actor, before: json(r.before_state), after: json(r.after_state), at: r.created_at.toISOString() }));
  }
}
