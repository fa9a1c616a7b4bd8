// SPDX-License-Identifier: GPL-2.0

//! Sleeping for a while.
//!
//! C header: [`include/linux/delay.h`](srctree/include/linux/delay.h)

use super::Delta;
use crate::bindings;

/// Sleeps for `delta`, or a little longer, with whatever suits its length: a busy wait of at
/// most 10 us, an hrtimer sleep, or a jiffies sleep beyond 20 ms.
///
/// A negative `delta` does not sleep; a `delta` beyond what `fsleep()` takes (an `unsigned
/// long` of microseconds) sleeps that long. Must not be called from atomic context, but for a
/// `delta` of 10 us or less.
pub fn fsleep(delta: Delta) {
    let micros = delta.as_micros_ceil().max(0) as u64;
    let micros = micros.min(crate::ffi::c_ulong::MAX as u64) as crate::ffi::c_ulong;
    // SAFETY: `fsleep()` may be called with any duration from a context that may sleep.
    unsafe { bindings::fsleep(micros) }
}
