/**
 * In `sorted`, ordered so that `before` holds for a prefix of it and for nothing after: the length of
 * that prefix (the index of the first element for which `before` is false). Binary search, O(log n).
 */
export function firstNotBefore<T>(sorted: readonly T[], before: (item: T) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(sorted[mid]!)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
