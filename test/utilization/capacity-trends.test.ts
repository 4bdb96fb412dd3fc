import { describe, expect, it } from 'vitest';
import { CapacityTrendPolicySchema } from '#contracts/utilization';
import { type Fit, fitLine, forecast } from '#utilization/capacity-trends';
import { rng } from '../support/prompb.ts';

const policy = CapacityTrendPolicySchema.parse({});
const AS_OF = new Date('2025-03-01T00:00:00Z');
/** Daily points for the `days` days before asOf (x = -days .. -1). */
const daily = (days: number, y: (x: number) => number) =>
  Array.from({ length: days }, (_, i) => {
    const x = i - days;
    return { x, y: y(x) };
  });
/** Deterministic noise in [-1, 1). */
function noise(seed = 7) {
  const next = rng(seed);
  return () => next() * 2 - 1;
}
const fitOf = (points: { x: number; y: number }[]): Fit => {
  const f = fitLine(points);
  if (!f) throw new Error('no fit');
  return f;
};

describe('fitLine', () => {
  it('recovers an exact line with R² 1 and no residual', () => {
    // 50 % at asOf, rising 1 point a day: the day at x = -30 had 20 %.
    const fit = fitOf(daily(30, (x) => 50 + x));
    expect(fit.n).toBe(30);
    expect(fit.slope).toBeCloseTo(1, 12);
    expect(fit.intercept).toBeCloseTo(50, 12);
    expect(fit.r2).toBeCloseTo(1, 12);
    expect(fit.residual).toBeCloseTo(0, 9);
  });

  it('gives the textbook figures for a small set', () => {
    // x = -3, -2, -1; y = 1, 2, 4: mean x -2, mean y 7/3, sxx 2, sxy (-1)(-4/3) + 0 + (1)(5/3) = 3,
    // slope 3/2, intercept 7/3 + 3 = 16/3, syy 16/9 + 1/9 + 25/9 = 42/9, R² = 9 / (2 x 42/9) = 81/84,
    // SSE = syy (1 - R²) = 42/9 x 3/84 = 1/6, residual sqrt(1/6 / 1).
    const fit = fitOf([
      { x: -3, y: 1 },
      { x: -2, y: 2 },
      { x: -1, y: 4 },
    ]);
    expect(fit.slope).toBeCloseTo(1.5, 12);
    expect(fit.intercept).toBeCloseTo(16 / 3, 12);
    expect(fit.r2).toBeCloseTo(81 / 84, 12);
    expect(fit.residual).toBeCloseTo(Math.sqrt(1 / 6), 12);
  });

  it('cannot fit one point', () => {
    expect(fitLine([{ x: -1, y: 3 }])).toBeUndefined();
  });
});

describe('forecast', () => {
  it('projects a known crossing date', () => {
    // 50 % at asOf, +1 a day: 80 % is crossed 30 days after asOf, 2025-03-31.
    const f = forecast(fitOf(daily(30, (x) => 50 + x)), 80, AS_OF, policy);
    expect(f).toMatchObject({ kind: 'forecast', crossesAt: '2025-03-31T00:00:00.000Z' });
    if (f.kind !== 'forecast') throw new Error(f.reason);
    expect(f.daysToCross).toBeCloseTo(30, 9);
  });

  it('projects through noise to near the true crossing, with the fit quality', () => {
    // Storage 60 % at asOf, +0.5 a day, uniform noise of +/- 1 point: the true line crosses 75 % at
    // 30 days. The prediction's standard error there is sd x sqrt(1/30 + 45.5² / sxx) / slope =
    // 0.577 x 0.97 / 0.5 = 1.1 days (sxx = 2247.5 for 30 consecutive days): 3 days is ~3 sigma.
    const next = noise();
    const f = forecast(fitOf(daily(30, (x) => 60 + 0.5 * x + next())), 75, AS_OF, policy);
    if (f.kind !== 'forecast') throw new Error(f.reason);
    expect(Math.abs(f.daysToCross - 30)).toBeLessThan(3);
    expect(f.fit.r2).toBeGreaterThan(0.9);
    expect(f.fit.r2).toBeLessThan(1);
    // Uniform noise of amplitude 1 has a standard deviation of 1 / sqrt(3) = 0.58.
    expect(f.fit.residual).toBeGreaterThan(0.4);
    expect(f.fit.residual).toBeLessThan(0.8);
  });

  it('says crossing now when the line is already above the threshold', () => {
    const f = forecast(fitOf(daily(10, (x) => 85 + x)), 80, AS_OF, policy);
    expect(f).toMatchObject({ kind: 'forecast', daysToCross: 0, crossesAt: AS_OF.toISOString() });
  });

  it('gives no forecast on too little history, and says so', () => {
    expect(forecast(fitOf(daily(6, (x) => 70 + 2 * x)), 80, AS_OF, policy)).toEqual({
      kind: 'none',
      reason: 'too little history: 6 days of data, 7 needed',
    });
    expect(forecast({ n: 1 }, 80, AS_OF, policy)).toMatchObject({
      kind: 'none',
      reason: /too little history: 1 days/,
    });
    // Seven days are enough.
    expect(forecast(fitOf(daily(7, (x) => 70 + 2 * x)), 80, AS_OF, policy)).toMatchObject({
      kind: 'forecast',
      daysToCross: 5,
    });
  });

  it('gives none for a flat or falling series', () => {
    expect(forecast(fitOf(daily(30, () => 40)), 80, AS_OF, policy)).toMatchObject({
      kind: 'none',
      reason: 'not rising',
    });
    expect(forecast(fitOf(daily(30, (x) => 40 - x)), 80, AS_OF, policy)).toMatchObject({
      kind: 'none',
      reason: 'not rising',
    });
  });

  it('gives none when noise drowns the trend (R² below minR2)', () => {
    const next = noise(3);
    const fit = fitOf(daily(30, (x) => 40 + 0.05 * x + 10 * next()));
    expect(fit.slope).toBeGreaterThan(0);
    expect(fit.r2).toBeLessThan(0.5);
    expect(forecast(fit, 80, AS_OF, policy)).toMatchObject({
      kind: 'none',
      reason: /^no clear trend: R² 0\.\d\d < 0\.5$/,
    });
  });

  it('leaves out crossings beyond the horizon', () => {
    // 10 % at asOf, +0.5 a day: 80 % in 140 days > 90.
    expect(forecast(fitOf(daily(30, (x) => 10 + 0.5 * x)), 80, AS_OF, policy)).toEqual(
      expect.objectContaining({ kind: 'none', reason: 'crosses in 140 days, beyond 90' }),
    );
  });
});
