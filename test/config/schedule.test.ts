import { describe, expect, it } from 'vitest';
import { scheduleProblem } from '../../lib/config/schedule.ts';

describe('scheduleProblem (EventBridge Scheduler grammar)', () => {
  it.each([
    'rate(1 minute)',
    'rate(5 minutes)',
    'rate(1 hour)',
    'rate(12 hours)',
    'rate(7 days)',
    'cron(0 10 * * ? *)',
    'cron(15 12 * * ? *)',
    'cron(0 18 ? * MON-FRI *)',
    'cron(0 8 1 * ? *)',
    'cron(0/15 * * * ? *)',
    'cron(0/10 * ? * MON-FRI *)',
    'cron(0/5 8-17 ? * MON-FRI *)',
    'cron(0 9 ? * 2#1 *)',
    'cron(0 9 L * ? *)',
    'cron(0 9 LW * ? *)',
    'cron(0 9 15W * ? *)',
    'cron(0 9 ? * 6L *)',
    'cron(0 9 ? * FRIL *)',
    'cron(5,35 14 * JAN,JUL ? 2026-2030)',
    'cron(*/30 * * * ? *)',
  ])('accepts %s', (expression) => {
    expect(scheduleProblem(expression)).toBeUndefined();
  });

  it.each([
    ['cron(99 * * * ? *)', 'minutes: "99": 99 is outside 0-59'],
    ['cron(0 24 * * ? *)', 'hours: "24": 24 is outside 0-23'],
    ['cron(0 10 * * *)', 'cron() needs 6 fields (minutes hours day-of-month month day-of-week year), got 5'],
    ['cron(0 10 * * * *)', 'exactly one of day-of-month and day-of-week must be "?"'],
    ['cron(0 10 ? * ? *)', 'exactly one of day-of-month and day-of-week must be "?"'],
    ['cron(? 10 * * ? *)', 'minutes: "?" is only valid in day-of-month or day-of-week'],
    ['cron(0 10 * 13 ? *)', 'month: "13": 13 is outside 1-12'],
    ['cron(0 10 ? * FOO *)', 'day-of-week: "FOO": "FOO" is not a number or a name'],
    ['cron(0 10 ? * 2#6 *)', 'day-of-week: "2#6": the week after # must be 1-5'],
    ['cron(0 10 L * ? 1969)', 'year: "1969": 1969 is outside 1970-2199'],
    ['cron(0/0 * * * ? *)', 'minutes: "0/0": the step after "/" must be a positive integer'],
    ['cron(30-10 * * * ? *)', 'minutes: "30-10": the range runs backwards'],
    ['cron(0 10 ? * 1W *)', 'day-of-week: "1W": "1W" is not a number or a name'],
    ['rate(0 minutes)', 'the rate must be at least 1'],
    ['rate(1 minutes)', 'use the singular unit for 1: rate(1 minute)'],
    ['rate(5 minute)', 'use the plural unit for 5: rate(5 minutes)'],
    ['rate(5 weeks)', 'rate() needs "<positive integer> minute(s)|hour(s)|day(s)"'],
    ['every 5 minutes', 'expected rate(...) or cron(...)'],
    ['at(2026-01-01T00:00:00)', 'expected rate(...) or cron(...)'],
  ])('refuses %s: %s', (expression, problem) => {
    expect(scheduleProblem(expression)).toBe(problem);
  });
});
