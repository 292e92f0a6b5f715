import { Conflict, type FieldIssue, Forbidden, newId, NotFound, plainTextIssues, ValidationFailed } from '../core/index.js';
import type { Db } from '../store/index.js';
import { actorOf } from './actor.js';
import { changeTime, recordChange, recordRefusal } from './evidence.js';
import type { Role } from './roles.js';
import type { AlertLogger, AuthenticatedPrincipal, ChangeContext } from './types.js';

/** The role that may elevate. */
export const BREAK_GLASS_ROLE: Role = 'break-glass';

/** Longest elevation when nothing else is configured: one hour (HIPAA 164.312(a)(2)(ii) emergency access, time-boxed). */
export const DEFAULT_BREAK_GLASS_MAX_MINUTES = 60;

/** Shortest accepted reason: "emergency" alone is not a reason a reviewer can check. */
export const MIN_BREAK_GLASS_REASON_LENGTH = 10;

/** Stable event name of the alert raised at elevation (log line `event` and audit reason prefix). */
export const BREAK_GLASS_ALERT_EVENT = 'breakglass.elevate';

/** A break-glass elevation, current or past. */
export interface ElevationRecord {
  id: string;
  principalId: string;
  reason: string;
  startedAt: string;
  expiresAt: string;
  endedAt: string | null;
  endedBy: string | null;
}

interface ElevationRow {
  id: string;
  principal_id: string;
  reason: string;
  started_at: string;
  expires_at: string;
  ended_at: string | null;
  ended_by: string | null;
}

const ELEVATION_COLUMNS = 'id, principal_id, reason, started_at, expires_at, ended_at, ended_by';

function toElevation(r: ElevationRow): ElevationRecord {
  return {
    id: r.id,
    principalId: r.principal_id,
    reason: r.reason,
    startedAt: r.started_at,
    expiresAt: r.expires_at,
    endedAt: r.ended_at,
    endedBy: r.ended_by,
  };
}

/** Options of `startElevation`. */
export interface StartElevationInput {
  principal: AuthenticatedPrincipal;
  reason: string;
  durationMinutes: number;
  /** @default DEFAULT_BREAK_GLASS_MAX_MINUTES */
  maxMinutes?: number;
  /** Receives the alert line at elevation (there is no alerting module yet: the log is the channel). */
  alerts?: AlertLogger;
}

/**
 * Elevates a principal holding `break-glass` to platform-admin-equivalent until expiry. Records
 * `breakglass.elevate` and an `alert.raise` entry in one transaction, then logs the alert at
 * warn level. Refuses short reasons, over-long durations, a second concurrent elevation, and
 * principals without the role (that refusal audited).
 */
export async function startElevation(db: Db, input: StartElevationInput, ctx: ChangeContext): Promise<ElevationRecord> {
  const max = input.maxMinutes ?? DEFAULT_BREAK_GLASS_MAX_MINUTES;
  const reason = input.reason.trim();
  const issues: FieldIssue[] = [];
  if (reason.length < MIN_BREAK_GLASS_REASON_LENGTH) {
    issues.push({ field: 'reason', message: `must state the reason in at least ${MIN_BREAK_GLASS_REASON_LENGTH} characters` });
  } else issues.push(...plainTextIssues([['reason', reason]]));
  if (!Number.isInteger(input.durationMinutes) || input.durationMinutes < 1 || input.durationMinutes > max) {
    issues.push({ field: 'durationMinutes', message: `must be a whole number of minutes from 1 to ${max}` });
  }
  if (issues.length > 0) throw new ValidationFailed(`invalid break-glass request: ${issues.map((i) => i.field).join(', ')}`, issues);
  const p = input.principal;
  if (!p.roles.includes(BREAK_GLASS_ROLE)) {
    await recordRefusal(db, {
      actor: actorOf(p),
      action: 'access.deny',
      resource: { type: 'elevation', id: 'new' },
      policyId: 'identity:break-glass-role',
      reason: `break-glass requires the ${BREAK_GLASS_ROLE} role`,
      ...(ctx.requestId ? { requestId: ctx.requestId } : {}),
    });
    throw new Forbidden(`break-glass requires the ${BREAK_GLASS_ROLE} role`);
  }
  const now = changeTime(ctx);
  const id = newId('elv');
  const expiresAt = new Date(now.getTime() + input.durationMinutes * 60_000).toISOString();
  const record = await db.transaction(async (tx) => {
    // Locking the principal serialises concurrent elevations of the same principal.
    const held = await tx.query<{ roles: string[]; disabled_at: string | null }>(
      'SELECT roles, disabled_at FROM principals WHERE id = $1 FOR UPDATE',
      [p.id],
    );
    const row = held.rows[0];
    if (!row || row.disabled_at || !row.roles.includes(BREAK_GLASS_ROLE)) throw new Forbidden(`break-glass requires the ${BREAK_GLASS_ROLE} role`);
    const open = await tx.query<{ expires_at: string }>(
      'SELECT expires_at FROM elevations WHERE principal_id = $1 AND ended_at IS NULL AND expires_at > $2 LIMIT 1',
      [p.id, now.toISOString()],
    );
    if (open.rows[0]) {
      throw new Conflict(`already elevated until ${open.rows[0].expires_at}; end it first (DELETE /api/v1/break-glass)`);
    }
    const r = await tx.query<ElevationRow>(
      `INSERT INTO elevations (id, principal_id, reason, started_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING ${ELEVATION_COLUMNS}`,
      [id, p.id, reason, now.toISOString(), expiresAt],
    );
    const elevated: ChangeContext = { ...ctx, actor: { ...ctx.actor, elevation: { id, reason, expiresAt } } };
    const resource = { type: 'elevation', id };
    await recordChange(tx, elevated, { action: 'breakglass.elevate', resource, reason });
    await recordChange(tx, elevated, {
      action: 'alert.raise',
      resource,
      reason: `${BREAK_GLASS_ALERT_EVENT}: ${p.name} (${p.id}) elevated to platform-admin until ${expiresAt}: ${reason}`,
    });
    return toElevation(r.rows[0] as ElevationRow);
  });
  input.alerts?.warn(
    { event: BREAK_GLASS_ALERT_EVENT, alert: true, principalId: p.id, principalName: p.name, elevationId: id, reason, expiresAt },
    `ALERT ${BREAK_GLASS_ALERT_EVENT}: ${p.name} elevated to platform-admin until ${expiresAt}`,
  );
  return record;
}

/** Ends the principal's elevation in force before its expiry, audited; NotFound when none is in force. */
export async function endElevation(db: Db, input: { principal: AuthenticatedPrincipal }, ctx: ChangeContext): Promise<ElevationRecord> {
  const now = changeTime(ctx).toISOString();
  return db.transaction(async (tx) => {
    const r = await tx.query<ElevationRow>(
      `UPDATE elevations SET ended_at = $2, ended_by = $1
        WHERE principal_id = $1 AND ended_at IS NULL AND expires_at > $2 RETURNING ${ELEVATION_COLUMNS}`,
      [input.principal.id, now],
    );
    const row = r.rows[0];
    if (!row) throw new NotFound('elevation', `in force for ${input.principal.id}`);
    await recordChange(tx, ctx, { action: 'breakglass.end', resource: { type: 'elevation', id: row.id }, reason: 'ended before expiry' });
    return toElevation(row);
  });
}
