// SPDX-License-Identifier: GPL-2.0

//! Spans of time.
//!
//! C header: [`include/linux/ktime.h`](srctree/include/linux/ktime.h)

use super::Ktime;

/// A span of time, in nanoseconds, which may be negative.
///
/// The constructors saturate rather than wrap: a span too long for 64 bits of nanoseconds (about
/// 292 years) is the longest there is.
///
/// # Examples
///
/// ```
/// use kernel::time::Delta;
///
/// let d = Delta::from_millis(3);
/// assert_eq!(d.as_nanos(), 3_000_000);
/// assert_eq!(d.as_micros_ceil(), 3000);
/// assert_eq!(Delta::from_micros(1).as_millis(), 0);
/// assert!(Delta::ZERO.is_zero() && Delta::from_secs(-1).is_negative());
/// assert_eq!(Delta::from_secs(i64::MAX).as_nanos(), i64::MAX);
/// ```
#[repr(transparent)]
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delta {
    nanos: i64,
}

impl Delta {
    /// No time at all.
    pub const ZERO: Self = Self { nanos: 0 };

    /// `micros` microseconds.
    #[inline]
    pub const fn from_micros(micros: i64) -> Self {
        Self {
            nanos: micros.saturating_mul(1_000),
        }
    }

    /// `millis` milliseconds.
    #[inline]
    pub const fn from_millis(millis: i64) -> Self {
        Self {
            nanos: millis.saturating_mul(1_000_000),
        }
    }

    /// `secs` seconds.
    #[inline]
    pub const fn from_secs(secs: i64) -> Self {
        Self {
            nanos: secs.saturating_mul(1_000_000_000),
        }
    }

    /// Whether the span is empty.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whether the span goes backwards.
    #[inline]
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// The span in nanoseconds.
    #[inline]
    pub const fn as_nanos(self) -> i64 {
        self.nanos
    }

    /// The span in microseconds, rounded up.
    #[inline]
    pub const fn as_micros_ceil(self) -> i64 {
        self.nanos.saturating_add(999) / 1_000
    }

    /// The span in milliseconds, rounded down.
    #[inline]
    pub const fn as_millis(self) -> i64 {
        self.nanos / 1_000_000
    }
}

impl Ktime {
    /// The time elapsed since `self`, on the clock of [`Ktime::ktime_get`].
    #[inline]
    pub(crate) fn elapsed(self) -> Delta {
        Delta {
            nanos: Ktime::ktime_get().to_ns().saturating_sub(self.to_ns()),
        }
    }
}
