// SPDX-License-Identifier: GPL-2.0

//! Polling a device until it is ready.
//!
//! C header: [`include/linux/iopoll.h`](srctree/include/linux/iopoll.h)

use crate::{
    bindings,
    error::{code::ETIMEDOUT, Result},
    time::{delay::fsleep, Delta, Ktime},
};

/// Reads with `op` until `cond` holds for the value read, sleeping `sleep_delta` between reads,
/// and returns that value.
///
/// Returns the error of `op`, or `ETIMEDOUT` when `cond` still does not hold after
/// `timeout_delta`. The last read comes after the timeout has passed, so a device that became
/// ready while the caller slept past it has not timed out. The caller must be allowed to sleep.
///
/// # Examples
///
/// ```
/// use kernel::{io::poll::read_poll_timeout, prelude::*, time::Delta};
///
/// let mut reads = 0;
/// let ready = read_poll_timeout(
///     || {
///         reads += 1;
///         Ok(reads)
///     },
///     |&n| n == 3,
///     Delta::from_micros(10),
///     Delta::from_secs(1),
/// );
/// assert_eq!(ready, Ok(3));
///
/// let never = read_poll_timeout(|| Ok(0), |&n| n == 1, Delta::ZERO, Delta::from_millis(1));
/// assert_eq!(never, Err(ETIMEDOUT));
/// ```
pub fn read_poll_timeout<Op, Cond, T>(
    mut op: Op,
    mut cond: Cond,
    sleep_delta: Delta,
    timeout_delta: Delta,
) -> Result<T>
where
    Op: FnMut() -> Result<T>,
    Cond: FnMut(&T) -> bool,
{
    // SAFETY: Always allowed; it only checks the caller's context.
    unsafe { bindings::might_sleep() };
    let start = Ktime::ktime_get();
    loop {
        // Time is read before the value: see above.
        let late = start.elapsed() > timeout_delta;
        let val = op()?;
        if cond(&val) {
            return Ok(val);
        }
        if late {
            return Err(ETIMEDOUT);
        }
        if sleep_delta.is_zero() {
            core::hint::spin_loop();
        } else {
            fsleep(sleep_delta);
        }
    }
}
