// SPDX-License-Identifier: GPL-2.0

//! The Rust paths of the boot-time benchmark (dma_bench.c): the two-step
//! path of `kernel::dma::pages::MappedPages` and `kernel::hmm::DmaMap`,
//! called with the pages the benchmark gives every path.

use core::ffi::c_int;
use kernel::{
    bindings,
    device::Device,
    dma::{iova::Reservation, Attrs, DataDirection},
    error::{code::*, Error},
    page::PAGE_SIZE,
    prelude::*,
};

/// For dma_bench.c: maps `n` pages for `dev` as `MappedPages` does on its
/// two-step path, a [`Reservation`] with one link per run of contiguous
/// pages and one IOTLB sync; stores in `*started` when the timed part
/// begins and in `*mapped` when the map is done, and drops the reservation
/// (one flush).
///
/// # Safety
///
/// `dev` is a bound device; `pages` holds `n` pages, which outlive the
/// call; `started` and `mapped` are writable.
#[no_mangle]
pub(crate) unsafe extern "C" fn dma_bench_pages(
    dev: *mut bindings::device,
    pages: *const *mut bindings::page,
    n: core::ffi::c_uint,
    started: *mut u64,
    mapped: *mut u64,
) -> c_int {
    let n = n as usize;
    // SAFETY: By the function's contract the device is bound during the call.
    let dev = unsafe { Device::as_ref(dev).as_bound() };
    // The pages' addresses, the input of `link_phys_pages()`, are found
    // before the timed part, as the scatterlist of `dma_map_sg()` is built
    // before its own.
    let mut phys = match KVec::with_capacity(n, GFP_KERNEL) {
        Ok(v) => v,
        Err(err) => return Error::from(err).to_errno(),
    };
    for i in 0..n {
        // SAFETY: By the function's contract `pages` holds `n` pages.
        let at = unsafe { bindings::page_to_phys(*pages.add(i)) };
        if let Err(err) = phys.push(at, GFP_KERNEL) {
            return Error::from(err).to_errno();
        }
    }
    // SAFETY: `started` is writable; `ktime_get()` may be called anywhere.
    unsafe { *started = bindings::ktime_get() as u64 };
    let size = n * PAGE_SIZE;
    let mut iova =
        match Reservation::try_alloc(dev, size, 0, DataDirection::Bidirectional, Attrs::empty()) {
            Ok(Some(iova)) => iova,
            Ok(None) => return ENOSPC.to_errno(),
            Err(err) => return err.to_errno(),
        };
    // SAFETY: The pages outlive the reservation.
    let ret = unsafe { iova.link_phys_pages(0, phys.iter().copied()) };
    let ret = ret.and_then(|()| iova.sync_all());
    // SAFETY: `mapped` is writable; `ktime_get()` may be called anywhere.
    unsafe { *mapped = bindings::ktime_get() as u64 };
    drop(iova);
    match ret {
        Ok(()) => 0,
        Err(err) => err.to_errno(),
    }
}

#[cfg(CONFIG_HMM_MIRROR)]
mod hmm {
    use super::*;
    use kernel::{
        hmm::{DmaMap, Pfn},
        page::PAGE_SHIFT,
    };

    /// For dma_bench.c: fills a [`DmaMap`] of `n` entries for `dev`, stores
    /// in `*started` when that is done, maps them all with one IOTLB sync,
    /// stores in `*mapped` when that is done, and drops the map (one flush).
    ///
    /// # Safety
    ///
    /// `dev` is a bound device; `pages` holds `n` pages, which outlive the
    /// call; `started` and `mapped` are writable.
    #[no_mangle]
    pub(crate) unsafe extern "C" fn dma_bench_hmm(
        dev: *mut bindings::device,
        pages: *const *mut bindings::page,
        n: core::ffi::c_uint,
        started: *mut u64,
        mapped: *mut u64,
    ) -> c_int {
        let n = n as usize;
        // SAFETY: By the function's contract the device is bound during the call.
        let dev = unsafe { Device::as_ref(dev).as_bound() };
        let mut map = match DmaMap::new(dev, n, DataDirection::Bidirectional) {
            Ok(map) => map,
            Err(err) => return err.to_errno(),
        };
        for i in 0..n {
            // SAFETY: By the function's contract `pages` holds `n` pages.
            let phys = unsafe { bindings::page_to_phys(*pages.add(i)) };
            // What `hmm_range_fault()` gives for a writable page.
            let entry = Pfn::from_raw((1 << 63) | (1 << 62) | (phys >> PAGE_SHIFT) as usize);
            if let Err(err) = map.set_pfn(i, entry) {
                return err.to_errno();
            }
        }
        // SAFETY: `started` is writable; `ktime_get()` may be called anywhere.
        unsafe { *started = bindings::ktime_get() as u64 };
        // SAFETY: The pages outlive the map.
        let ret = unsafe { map.map_range(0, n) };
        // SAFETY: `mapped` is writable; `ktime_get()` may be called anywhere.
        unsafe { *mapped = bindings::ktime_get() as u64 };
        drop(map);
        match ret {
            Ok(done) if done == n => 0,
            Ok(_) => EIO.to_errno(),
            Err(err) => err.to_errno(),
        }
    }
}
