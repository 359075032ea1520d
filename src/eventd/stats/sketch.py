"""Exact sums and a DDSketch: the mergeable, subtractable parts of rolling statistics."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from fractions import Fraction
from typing import NamedTuple

# Every finite float is an integer multiple of 2**-1074, so sums of scaled integers are exact.
_SCALE_BITS = 1074


def scaled_both(value: float) -> tuple[int, int]:
    """Return `value * 2**1074` and `value**2 * 2**2148` exactly, as integers."""
    numerator, denominator = value.as_integer_ratio()
    shift = _SCALE_BITS - denominator.bit_length() + 1
    return numerator << shift, (numerator * numerator) << (2 * shift)


def unscaled(total: int) -> Fraction:
    """Return the exact value of a sum of first parts of `scaled_both`."""
    return Fraction(total, 1 << _SCALE_BITS)


def unscaled_square(total: int) -> Fraction:
    """Return the exact value of a sum of second parts of `scaled_both`."""
    return Fraction(total, 1 << (2 * _SCALE_BITS))


BEYOND_FLOAT = "the exact value is beyond the range of a 64-bit float"


class Moments(NamedTuple):
    """Sum, mean and standard deviation; `sum` is None when it does not fit a float."""

    sum: float | None
    mean: float
    stddev: float


def moments(count: int, total: int, squares: int) -> Moments:
    """Return the moments of `count` values (count > 0) from their `scaled_both` sums."""
    exact = unscaled(total)
    mean = exact / count
    # Exact, so never negative; it may exceed a float (1e155 and 0: 2.5e309) where its
    # square root does not (the deviation is at most half the values' range).
    variance = unscaled_square(squares) / count - mean * mean
    # The mean lies between the extremes, so it fits a float; a sum of many large ones may not.
    return Moments(as_float(exact), float(mean), sqrt(variance))


def as_float(value: Fraction) -> float | None:
    """Return the float nearest `value`, or None when `value` is beyond the range of a float."""
    try:
        return float(value)
    except OverflowError:
        return None


def sqrt(value: Fraction) -> float:
    """Return the square root of `value` >= 0 to a float's precision, with no float overflow."""
    numerator, denominator = value.numerator, value.denominator
    if numerator <= 0:
        return 0.0
    # Scale by 4**k so that the integer root has at least 64 significant bits.
    k = max(0, (128 - numerator.bit_length() + denominator.bit_length()) // 2 + 1)
    root = math.isqrt((numerator << (2 * k)) // denominator)
    return float(Fraction(root, 1 << k))


class DDSketch:
    """Quantiles with a bounded relative error (Masson et al., VLDB 2019), able to forget.

    A value v > 0 lands in bucket ceil(log_gamma(v)); every value of a bucket is within
    `relative_error` of the bucket's representative. Negative values mirror positive ones;
    zero has its own count. Removing a value decrements its bucket, so windows can slide.

    `key(value)` names a value's bucket, and `add_key` counts it: several sketches with the
    same error can share one key computation (a rolling value enters several windows).
    """

    def __init__(self, relative_error: float = 0.01) -> None:
        self.relative_error = relative_error
        self._gamma = (1 + relative_error) / (1 - relative_error)
        self._log_gamma = math.log(self._gamma)
        # Bucket k of positive values has key 2k, of negative values 2k+1; zero has None.
        self._bins: dict[int, int] = {}
        self._zero = 0
        self.count = 0

    def key(self, value: float) -> int | None:
        """Return the key of the bucket that `value` falls in."""
        if value > 0:
            return 2 * math.ceil(math.log(value) / self._log_gamma)
        if value < 0:
            return 2 * math.ceil(math.log(-value) / self._log_gamma) + 1
        return None

    def add(self, value: float, weight: int = 1) -> None:
        """Add `value` (`weight` < 0 removes it)."""
        self.add_key(self.key(value), weight)

    def add_key(self, key: int | None, weight: int) -> None:
        """Add `weight` values (< 0 removes) to the bucket `key`, from `key()` of this error."""
        self.count += weight
        if key is None:
            self._zero += weight
            return
        bins = self._bins
        count = bins.get(key, 0) + weight
        if count:
            bins[key] = count
        else:
            del bins[key]

    def quantile(self, q: float) -> float | None:
        """Return the q-quantile (0 <= q <= 1) within the relative error, or None if empty."""
        if self.count <= 0:
            return None
        rank = q * (self.count - 1)
        seen = 0
        for value, count in self._ordered():
            seen += count
            if seen > rank:
                return value
        return None  # unreachable while counts are consistent

    def _ordered(self) -> Iterable[tuple[float, int]]:
        """Yield each bucket's representative value and count, from the lowest value up."""
        negative = sorted((key >> 1 for key in self._bins if key & 1), reverse=True)
        positive = sorted(key >> 1 for key in self._bins if not key & 1)
        for k in negative:
            yield -self._representative(k), self._bins[2 * k + 1]
        if self._zero:
            yield 0.0, self._zero
        for k in positive:
            yield self._representative(k), self._bins[2 * k]

    def _representative(self, k: int) -> float:
        try:
            return min(2 * self._gamma**k / (self._gamma + 1), sys.float_info.max)
        except OverflowError:  # the bucket of the largest floats: its middle is past them
            return sys.float_info.max
