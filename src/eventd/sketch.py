"""Exact sums and a DDSketch: the mergeable, subtractable parts of rolling statistics."""

from __future__ import annotations

import math
from collections.abc import Iterable
from fractions import Fraction

# Every finite float is an integer multiple of 2**-1074, so sums of scaled integers are exact.
_SCALE_BITS = 1074


def scaled(value: float) -> int:
    """Return `value * 2**1074` exactly, as an integer."""
    numerator, denominator = value.as_integer_ratio()
    return numerator << (_SCALE_BITS - denominator.bit_length() + 1)


def unscaled(total: int) -> Fraction:
    """Return the exact value of a sum of `scaled` numbers."""
    return Fraction(total, 1 << _SCALE_BITS)


def scaled_square(value: float) -> int:
    """Return `value**2 * 2**2148` exactly, as an integer."""
    numerator, denominator = value.as_integer_ratio()
    return (numerator * numerator) << (2 * (_SCALE_BITS - denominator.bit_length() + 1))


def unscaled_square(total: int) -> Fraction:
    """Return the exact value of a sum of `scaled_square` numbers."""
    return Fraction(total, 1 << (2 * _SCALE_BITS))


class DDSketch:
    """Quantiles with a bounded relative error (Masson et al., VLDB 2019), able to forget.

    A value v > 0 lands in bucket ceil(log_gamma(v)); every value of a bucket is within
    `relative_error` of the bucket's representative. Negative values mirror positive ones;
    zero has its own count. Removing a value decrements its bucket, so windows can slide.
    """

    def __init__(self, relative_error: float = 0.01) -> None:
        self.relative_error = relative_error
        self._gamma = (1 + relative_error) / (1 - relative_error)
        self._log_gamma = math.log(self._gamma)
        self._positive: dict[int, int] = {}
        self._negative: dict[int, int] = {}
        self._zero = 0
        self.count = 0

    def _key(self, value: float) -> int:
        return math.ceil(math.log(value) / self._log_gamma)

    def add(self, value: float, weight: int = 1) -> None:
        """Add `value` (`weight` < 0 removes it)."""
        self.count += weight
        if value == 0:
            self._zero += weight
            return
        store = self._positive if value > 0 else self._negative
        key = self._key(abs(value))
        count = store.get(key, 0) + weight
        if count:
            store[key] = count
        else:
            del store[key]

    def quantile(self, q: float) -> float | None:
        """Return the q-quantile (0 <= q <= 1) within the relative error, or None if empty."""
        if self.count <= 0:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for key, count in self._ordered():
            seen += count
            if seen > rank:
                if key is None:
                    return 0.0
                sign, k = key
                return sign * 2 * self._gamma**k / (self._gamma + 1)
        return None  # unreachable while counts are consistent

    def _ordered(self) -> Iterable[tuple[tuple[int, int] | None, int]]:
        for k in sorted(self._negative, reverse=True):
            yield (-1, k), self._negative[k]
        if self._zero:
            yield None, self._zero
        for k in sorted(self._positive):
            yield (1, k), self._positive[k]
