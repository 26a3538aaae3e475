/**
 * Retention and housekeeping: deletes chat lines (and hourly metric rows) older than
 * `database.retention_days`, then lets the backend tidy up (`maintain()`: WAL checkpoint, optimize and
 * incremental vacuum on SQLite; ANALYZE TABLE on MySQL). Runs once shortly after start, then every
 * `database.maintenance_minutes`.
 * @module
 */
import { describeError } from "./errors.ts";
import type { Logger } from "./log.ts";
import type { Storage } from "./storage.ts";

/** Options of {@link startMaintenance}. */
export interface MaintenanceOptions {
  retentionDays: number;
  intervalMinutes: number;
  log: Logger;
  /** Clock for the retention cut-off (tests). */
  now?: () => number;
  /** Milliseconds before the first run (default: the interval, at most one minute). */
  firstRunMs?: number;
  /** Timer functions (tests pass fake ones). */
  timers?: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void };
}

/** A running maintenance schedule. */
export interface Maintenance {
  /** Prunes and maintains now; concurrent calls share one run. */
  runOnce(): Promise<{ pruned: number }>;
  /** Cancels the schedule and waits for a run in progress. */
  stop(): Promise<void>;
}

const DAY_MS = 86_400_000;

/** Starts the retention/maintenance schedule on `storage` (normally the `BufferedStorage`). */
export function startMaintenance(storage: Storage, opts: MaintenanceOptions): Maintenance {
  const now = opts.now ?? Date.now;
  const timers = opts.timers ?? {
    setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms),
    clearTimeout: (id: unknown) => clearTimeout(id as number),
  };
  const intervalMs = Math.max(1, opts.intervalMinutes) * 60_000;
  const log = opts.log.child({ event: "maintenance" });
  let timer: unknown;
  let running: Promise<{ pruned: number }> | undefined;
  let stopped = false;

  async function run(): Promise<{ pruned: number }> {
    const started = performance.now();
    const before = now() - opts.retentionDays * DAY_MS;
    const pruned = await storage.prune(before);
    await storage.maintain();
    log.info("Database maintenance done", {
      pruned,
      retentionDays: opts.retentionDays,
      ms: Math.round(performance.now() - started),
    });
    return { pruned };
  }

  function runOnce(): Promise<{ pruned: number }> {
    running ??= run().finally(() => running = undefined);
    return running;
  }

  function schedule(ms: number): void {
    if (stopped) return;
    timer = timers.setTimeout(async function maintenanceTick() {
      timer = undefined;
      try {
        await runOnce();
      } catch (err) {
        // The database may be down; the next run tries again.
        log.warn("Database maintenance failed", { error: log.redact(describeError(err)) });
      }
      schedule(intervalMs);
    }, ms);
  }

  schedule(opts.firstRunMs ?? Math.min(intervalMs, 60_000));

  return {
    runOnce,
    async stop() {
      stopped = true;
      if (timer !== undefined) timers.clearTimeout(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
  };
}
