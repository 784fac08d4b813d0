// When a cron expression fires next. node-cron checks the syntax and expands the fields (its
// `parse`); its own timers run on the wall clock, so the next time is computed here, in local time,
// which lets the scheduler run on an injected (fake) clock. As in Vixie cron, when both day of
// month and day of week are restricted, a day matching either one fires. Local time because that
// is how people write schedules ("nightly at 02:30"); across DST each local wall-clock time fires at
// most once (SPEC section 17; agent/test/scheduler/cron-dst.test.ts).
import { parse, validate } from 'node-cron';
import { UsageError } from '../util/errors.js';

export interface CronSpec {
  expr: string;
  seconds: number[];
  minutes: number[];
  hours: number[];
  days: Set<number>;
  months: Set<number>;
  weekdays: Set<number>;
  dayRestricted: boolean;
  weekdayRestricted: boolean;
}

export function parseCron(expr: string): CronSpec {
  if (!validate(expr)) throw new UsageError(`"${expr}" is not a valid cron expression`, 'E_CRON');
  const f = parse(expr) as unknown as Record<'second' | 'minute' | 'hour' | 'dayOfMonth' | 'month' | 'dayOfWeek', number[]>;
  const sorted = (a: number[]) => [...new Set(a)].sort((x, y) => x - y);
  const weekdays = new Set(f.dayOfWeek.map((d) => d % 7));
  return {
    expr,
    seconds: sorted(f.second),
    minutes: sorted(f.minute),
    hours: sorted(f.hour),
    days: new Set(f.dayOfMonth),
    months: new Set(f.month),
    weekdays,
    dayRestricted: new Set(f.dayOfMonth).size < 31,
    weekdayRestricted: weekdays.size < 7,
  };
}

function dayMatches(c: CronSpec, d: Date): boolean {
  const dom = c.days.has(d.getDate());
  const dow = c.weekdays.has(d.getDay());
  if (c.dayRestricted && c.weekdayRestricted) return dom || dow;
  return dom && dow;
}

/** The first firing strictly after `afterMs` (local time), within the next 5 years; null if none. */
export function nextFire(c: CronSpec, afterMs: number): number | null {
  const start = new Date(afterMs - (afterMs % 1000) + 1000);
  let day = new Date(start.getFullYear(), start.getMonth(), start.getDate());
  let first = true;
  for (let i = 0; i < 366 * 5; i++) {
    if (c.months.has(day.getMonth() + 1) && dayMatches(c, day)) {
      for (const h of c.hours) {
        if (first && h < start.getHours()) continue;
        for (const m of c.minutes) {
          if (first && h === start.getHours() && m < start.getMinutes()) continue;
          for (const s of c.seconds) {
            const t = new Date(day.getFullYear(), day.getMonth(), day.getDate(), h, m, s).getTime();
            if (t > afterMs) return t;
          }
        }
      }
    }
    first = false;
    day = new Date(day.getFullYear(), day.getMonth(), day.getDate() + 1);
  }
  return null;
}
