// Small, exact statistics over samples in milliseconds.

/** The value at quantile q (0..1) of the samples, by linear interpolation between closest ranks. */
export function quantile(samples: readonly number[], q: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

/** Rounds to a tenth of a millisecond, enough for loopback figures. */
export function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

export function summarize(samples: readonly number[]): { min: number | null; median: number | null; max: number | null } {
  return {
    min: round(samples.length ? Math.min(...samples) : null),
    median: round(quantile(samples, 0.5)),
    max: round(samples.length ? Math.max(...samples) : null),
  };
}
