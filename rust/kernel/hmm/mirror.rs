// SPDX-License-Identifier: GPL-2.0

//! A device's mirror of a range of a process's address space.
//!
//! A [`Mirror`] follows a range of user addresses with an interval notifier
//! and keeps the [`DmaMap`] of its pages for one device. [`Mirror::fault`]
//! faults pages in with `hmm_range_fault()`, retrying until no invalidation
//! raced with it, and stores them under the mirror's lock; when the range
//! changes (an munmap, a migration, a copy-on-write), the invalidation
//! takes the same lock and unmaps the entries it covers before the pages
//! can go. So, under the lock, every valid entry is a page the device may
//! use, and [`MirrorMap`] maps entries without `unsafe`.
//!
//! The mirror lives as long as the driver keeps it, not as long as the
//! process: the notifier holds the `mm_struct` (not its address space), and
//! a fault after the process has gone fails with `EFAULT`.
//!
//! Its mappings go with the binding of the device's driver, as a
//! [`DmaMap`]'s do: if the driver unbinds while the mirror is still there,
//! every entry is unmapped then, and mapping fails with `ENXIO` after.
//!
//! C header: [`include/linux/hmm.h`](srctree/include/linux/hmm.h)

use super::{pfn::VALID, DmaMap, Pfn};
use crate::{
    alloc::{flags::GFP_KERNEL, KVVec},
    bindings,
    device::{Bound, Device},
    dma::{DataDirection, DmaAddress},
    error::{code::*, to_result, Error, Result},
    ffi::c_ulong,
    init::PinInit,
    new_mutex,
    page::PAGE_SIZE,
    prelude::{pin_data, pinned_drop, try_pin_init},
    sync::Mutex,
    time::Ktime,
    types::Opaque,
};
use core::{ops::DerefMut, pin::Pin};

/// How long [`Mirror::fault`] retries before giving up with `EBUSY`.
const FAULT_TIMEOUT_NS: i64 = bindings::HMM_RANGE_DEFAULT_TIMEOUT as i64 * 1_000_000;

/// A device's mirror of `entries` pages of a process's address space.
///
/// # Invariants
///
/// - `notifier` is inserted on the range `start..start + entries pages` of
///   an `mm_struct`, with [`OPS`], from construction until drop.
/// - Under `map`'s lock, every entry of the map that has
///   `HMM_PFN_VALID` holds the page the range has at its address: an
///   invalidation of the entry clears it, under the lock, after unmapping
///   it.
#[pin_data(PinnedDrop)]
pub struct Mirror {
    #[pin]
    notifier: Opaque<bindings::mmu_interval_notifier>,
    #[pin]
    map: Mutex<Option<DmaMap>>,
    start: usize,
    entries: usize,
}

// SAFETY: The notifier is used by the mm core from any thread, and the map
// is behind a mutex.
unsafe impl Send for Mirror {}

// SAFETY: As above.
unsafe impl Sync for Mirror {}

impl Mirror {
    /// Mirrors `entries` pages from the user address `start` of the current
    /// process for `dev`, mapping them in direction `dir`.
    ///
    /// Returns `EINVAL` for an unaligned or empty range, or when the current
    /// task has no address space. Must not be called with the address
    /// space's `mmap_lock` held (from a driver's `mmap()`, say): inserting
    /// the notifier may take it.
    pub fn of_current(
        dev: &Device<Bound>,
        start: usize,
        entries: usize,
        dir: DataDirection,
    ) -> impl PinInit<Self, Error> + '_ {
        try_pin_init!(Self {
            map <- new_mutex!(Some(DmaMap::new(dev, entries, dir)?)),
            notifier <- Self::insert(start, entries),
            start,
            entries,
        }? Error)
    }

    /// Inserts the notifier on `entries` pages from `start` of the current
    /// task's address space.
    fn insert(
        start: usize,
        entries: usize,
    ) -> impl PinInit<Opaque<bindings::mmu_interval_notifier>, Error> {
        let init = move |slot: *mut Opaque<bindings::mmu_interval_notifier>| {
            let len = entries.checked_mul(PAGE_SIZE).ok_or(EOVERFLOW)?;
            // SAFETY: The current task is valid while it runs.
            let mm = unsafe { (*bindings::get_current()).mm };
            if mm.is_null() || start % PAGE_SIZE != 0 || start.checked_add(len).is_none() {
                return Err(EINVAL);
            }
            let notifier = Opaque::raw_get(slot);
            // SAFETY: `notifier` is the slot, which stays pinned; it is
            // zeroed as the C API wants. `mm` is the current task's, alive
            // while it runs, and the notifier grabs it; `OPS` is static.
            to_result(unsafe {
                core::ptr::write_bytes(notifier, 0, 1);
                bindings::mmu_interval_notifier_insert(
                    notifier,
                    mm,
                    start as c_ulong,
                    len as c_ulong,
                    &OPS,
                )
            })
        };
        // SAFETY: The closure inserts the notifier in place, or fails
        // leaving nothing to undo.
        unsafe { crate::init::pin_init_from_closure(init) }
    }

    /// The user address of entry 0.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Faults in entries `first..first + count`, writable when `write`,
    /// and calls `f` with the map under the lock, the entries current.
    ///
    /// `f` runs under the lock that invalidations take, which reclaim and
    /// `munmap()` may wait for: it must not allocate memory in a way that
    /// may reclaim (`GFP_KERNEL`), nor touch user memory. Mapping entries
    /// is fine: the IOMMU's page tables are allocated atomically.
    ///
    /// Returns `EINVAL` for entries out of range, `EFAULT` when the process
    /// has gone or the addresses cannot be faulted, and `EBUSY` when
    /// invalidations kept racing with the fault for a second.
    pub fn fault<R>(
        &self,
        first: usize,
        count: usize,
        write: bool,
        f: impl FnOnce(&mut MirrorMap<'_>) -> R,
    ) -> Result<R> {
        let end = first.checked_add(count).ok_or(EINVAL)?;
        if count == 0 || end > self.entries {
            return Err(EINVAL);
        }
        let mut words = KVVec::<c_ulong>::from_elem(0, count, GFP_KERNEL)?;
        let notifier = self.notifier.get();
        // SAFETY: By the type invariant the notifier is inserted; its `mm`
        // is grabbed by it.
        let mm = unsafe { (*notifier).mm };
        let deadline = Ktime::ktime_get().to_ns() + FAULT_TIMEOUT_NS;
        loop {
            if Ktime::ktime_get().to_ns() > deadline {
                return Err(EBUSY);
            }
            let mut range = bindings::hmm_range {
                notifier,
                // SAFETY: The notifier is inserted.
                notifier_seq: unsafe { bindings::mmu_interval_read_begin(notifier) },
                start: (self.start + first * PAGE_SIZE) as c_ulong,
                end: (self.start + end * PAGE_SIZE) as c_ulong,
                hmm_pfns: words.as_mut_ptr(),
                default_flags: VALID | if write { super::pfn::WRITE } else { 0 },
                pfn_flags_mask: 0,
                dev_private_owner: core::ptr::null_mut(),
            };
            // SAFETY: `mm` is grabbed by the notifier; the fault needs its
            // address space, which this reference keeps until `mmput()`.
            if !unsafe { bindings::mmget_not_zero(mm) } {
                return Err(EFAULT);
            }
            // SAFETY: `mm`'s address space is held; `range` is valid, its
            // array as long as the range, and the notifier covers it.
            let ret = unsafe {
                bindings::mmap_read_lock(mm);
                let ret = bindings::hmm_range_fault(&mut range);
                bindings::mmap_read_unlock(mm);
                bindings::mmput(mm);
                ret
            };
            if ret == EBUSY.to_errno() {
                continue;
            }
            to_result(ret)?;
            let mut map = self.map.lock();
            // SAFETY: The notifier is inserted; the check is under the lock
            // that invalidations take.
            if unsafe { bindings::mmu_interval_read_retry(notifier, range.notifier_seq) } {
                continue;
            }
            let map = map.as_mut().ok_or(EFAULT)?;
            for (i, &word) in words.iter().enumerate() {
                // INVARIANT: No invalidation since the fault: the entries
                // are current.
                map.set_pfn(first + i, Pfn::from_raw(word))?;
            }
            return Ok(f(&mut MirrorMap { map }));
        }
    }

    /// Calls `f` with the map under the lock.
    ///
    /// Returns `EFAULT` only while the mirror is dropped.
    pub fn with<R>(&self, f: impl FnOnce(&mut MirrorMap<'_>) -> R) -> Result<R> {
        let mut guard = self.map.lock();
        let map = guard.deref_mut().as_mut().ok_or(EFAULT)?;
        Ok(f(&mut MirrorMap { map }))
    }

    /// Unmaps and forgets the entries of `map` in the user range
    /// `start..end`.
    fn invalidate(&self, map: &mut DmaMap, start: usize, end: usize) {
        let first = start.saturating_sub(self.start) / PAGE_SIZE;
        let last = (end.saturating_sub(self.start))
            .div_ceil(PAGE_SIZE)
            .min(map.len());
        if first >= last {
            return;
        }
        map.unmap_range(first, last - first);
        for idx in first..last {
            // INVARIANT: Cleared, after unmapping, under the lock.
            let _ = map.set_pfn(idx, Pfn::from_raw(0));
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Mirror {
    fn drop(self: Pin<&mut Self>) {
        // Unmap everything while the notifier still guards the pages.
        drop(self.map.lock().take());
        // SAFETY: By the type invariant the notifier is inserted; this waits
        // for running invalidations.
        unsafe { bindings::mmu_interval_notifier_remove(self.notifier.get()) };
    }
}

/// The map of a [`Mirror`], under its lock: valid entries are current, so
/// mapping them is safe.
pub struct MirrorMap<'a> {
    map: &'a mut DmaMap,
}

impl MirrorMap<'_> {
    /// See [`DmaMap::map_pfn`]; the entry must be valid.
    pub fn map_pfn(&mut self, idx: usize) -> Result<DmaAddress> {
        // SAFETY: By the type invariant of `Mirror` a valid entry is current
        // and is unmapped, under the lock held here, before its page goes.
        unsafe { self.map.map_pfn(idx) }
    }

    /// See [`DmaMap::map_range`].
    pub fn map_range(&mut self, first: usize, count: usize) -> Result<usize> {
        // SAFETY: As above; invalid entries are skipped.
        unsafe { self.map.map_range(first, count) }
    }

    /// See [`DmaMap::unmap_pfn`].
    pub fn unmap_pfn(&mut self, idx: usize) -> bool {
        self.map.unmap_pfn(idx)
    }

    /// See [`DmaMap::unmap_range`].
    pub fn unmap_range(&mut self, first: usize, count: usize) -> usize {
        self.map.unmap_range(first, count)
    }

    /// See [`DmaMap::pfn`].
    pub fn pfn(&self, idx: usize) -> Option<Pfn> {
        self.map.pfn(idx)
    }

    /// See [`DmaMap::iova_range`].
    pub fn iova_range(&self) -> Option<(DmaAddress, usize)> {
        self.map.iova_range()
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether there are no entries (never).
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// The notifier's operations.
static OPS: bindings::mmu_interval_notifier_ops = bindings::mmu_interval_notifier_ops {
    invalidate: Some(invalidate_callback),
};

/// # Safety
///
/// `sub` is the notifier of a live [`Mirror`]; `range` is valid.
unsafe extern "C" fn invalidate_callback(
    sub: *mut bindings::mmu_interval_notifier,
    range: *const bindings::mmu_notifier_range,
    cur_seq: c_ulong,
) -> bool {
    // SAFETY: `sub` is the `notifier` of a `Mirror` (only `Mirror` inserts
    // notifiers with `OPS`), which outlives its notifier.
    let mirror = unsafe {
        &*crate::container_of!(
            sub.cast::<Opaque<bindings::mmu_interval_notifier>>(),
            Mirror,
            notifier
        )
    };
    // SAFETY: `range` is valid.
    if !unsafe { bindings::mmu_notifier_range_blockable(range) } {
        // The mirror's lock may sleep: ask the caller to retry blockably.
        return false;
    }
    let (start, end) = {
        // SAFETY: As above.
        let range = unsafe { &*range };
        (range.start, range.end)
    };
    // The sequence is bumped under the lock that `fault` checks it under.
    let mut map = mirror.map.lock();
    // SAFETY: `sub` is inserted.
    unsafe { bindings::mmu_interval_set_seq(sub, cur_seq) };
    if let Some(map) = map.as_mut() {
        mirror.invalidate(map, start, end);
    }
    true
}
