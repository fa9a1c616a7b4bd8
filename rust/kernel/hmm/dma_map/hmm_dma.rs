// SPDX-License-Identifier: GPL-2.0

//! The C face of [`DmaMap`]: upstream's HMM DMA helpers.
//!
//! `hmm_dma_map_alloc()`, `hmm_dma_map_pfn()`, `hmm_dma_unmap_pfn()` and
//! `hmm_dma_map_free()` have upstream's C signatures and semantics. Each
//! takes the C `struct hmm_dma_map` back as the [`DmaMap`] it was made from,
//! runs the same code as the Rust API, and gives it back: one
//! implementation, two faces. Entries are mapped bidirectionally, as
//! upstream maps them, without the Rust face's check that the process may
//! write the page.
//!
//! Beyond upstream, `hmm_dma_map_free()` unmaps whatever is still mapped,
//! however many holes lie between the entries, with one IOTLB flush.
//!
//! C header: [`include/linux/hmm-dma.h`](srctree/include/linux/hmm-dma.h)

use super::{Dma, DmaMap, P2p, Path, Slots, Words, VALID};
use crate::{
    bindings,
    device::Device,
    dma::{DataDirection, DmaAddress},
    error::code::*,
    ffi::c_int,
    page::PAGE_SIZE,
    types::ARef,
};
use core::{mem::ManuallyDrop, ptr};

/// What `hmm_dma_map_pfn()` returns for an entry it could not map.
const MAPPING_ERROR: DmaAddress = DmaAddress::MAX;

impl DmaMap {
    /// Gives the map to a C caller as `*map`.
    ///
    /// # Safety
    ///
    /// `map` is valid for writes; the C caller gives it back with
    /// [`DmaMap::from_c`] only, with the same device. The C struct holds the
    /// map's reference to the device until then.
    unsafe fn into_c(self, map: *mut bindings::hmm_dma_map) {
        let this = ManuallyDrop::new(self);
        // SAFETY: The fields are moved out of a value that is not dropped.
        let (pfns, dma) = unsafe { (ptr::read(&this.pfns), ptr::read(&this.dma)) };
        let slots = match dma {
            Dma::Plain(slots) => slots,
            tied @ Dma::Tied(_) => {
                // Never: the C face makes only plain maps. Were it to get
                // another, it would tear it down and give C a map that is
                // not set up.
                drop((pfns, tied));
                // SAFETY: `map` is valid for writes by the function's
                // contract.
                unsafe { map.write(Default::default()) };
                return;
            }
        };
        let slots = ManuallyDrop::new(slots);
        // SAFETY: As above, out of the slots.
        let (dev, path) = unsafe { (ptr::read(&slots.dev), ptr::read(&slots.path)) };
        // The C struct keeps the map's reference to the device, which
        // `from_c()` takes back: no reference count changes per call.
        core::mem::forget(dev);
        let (state, dma_list) = match path {
            Path::Iova(state) => (state, ptr::null_mut()),
            Path::Streaming(Some(list)) => (Default::default(), list.into_raw_parts().0),
            Path::Streaming(None) => (Default::default(), ptr::null_mut()),
        };
        // SAFETY: `map` is valid for writes by the function's contract.
        unsafe {
            map.write(bindings::hmm_dma_map {
                state,
                pfn_list: pfns.into_raw(),
                dma_list,
                dma_entry_size: PAGE_SIZE,
            })
        };
    }

    /// Takes back a map [`DmaMap::into_c`] gave to a C caller.
    ///
    /// # Safety
    ///
    /// `dev` is the map's device, valid and bound; `*map` was filled in by
    /// [`DmaMap::into_c`], and the caller does not use the map meanwhile.
    unsafe fn from_c(dev: *mut bindings::device, map: *mut bindings::hmm_dma_map) -> Self {
        // SAFETY: By the function's contract.
        let map = unsafe { &mut *map };
        // SAFETY: By the function's contract `pfn_list` came from
        // `Words::into_raw()`.
        let pfns = unsafe { Words::from_raw(map.pfn_list) };
        let (path, iova) = if map.state.__size != 0 {
            (Path::Iova(map.state), Some(map.state.addr))
        } else if map.dma_list.is_null() {
            (Path::Streaming(None), None)
        } else {
            // SAFETY: The list came from a vector of one address per entry,
            // allocated with exactly that capacity.
            let list = unsafe {
                crate::alloc::KVVec::from_raw_parts(map.dma_list, pfns.len(), pfns.len())
            };
            (Path::Streaming(Some(list)), None)
        };
        // SAFETY: `dev` is the map's device by the function's contract, and
        // `into_c()` left the map's reference to it in the C struct, which
        // this takes back.
        let dev = unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(dev.cast::<Device>())) };
        let dir = DataDirection::Bidirectional;
        let slots = Slots {
            dev,
            path,
            entries: pfns.len(),
            dir,
        };
        Self {
            pfns,
            dir,
            dma: Dma::Plain(slots),
            iova,
            check_write: false,
        }
    }
}

/// Runs `f` on the C caller's map, then gives it back; `None` for a map
/// that is not set up (zeroed, or freed already).
///
/// # Safety
///
/// As for [`DmaMap::from_c`], but `*map` may also be zeroed.
unsafe fn with_map<R>(
    dev: *mut bindings::device,
    map: *mut bindings::hmm_dma_map,
    f: impl FnOnce(&mut DmaMap) -> R,
) -> Option<R> {
    // SAFETY: `map` is valid by the function's contract.
    if unsafe { (*map).pfn_list.is_null() } {
        return None;
    }
    // SAFETY: By the function's contract.
    let mut this = unsafe { DmaMap::from_c(dev, map) };
    let ret = f(&mut this);
    // SAFETY: `map` is the caller's, valid for writes.
    unsafe { this.into_c(map) };
    Some(ret)
}

/// Sets up the DMA mappings of an HMM range; see `include/linux/hmm-dma.h`.
///
/// # Safety
///
/// `dev` is a valid device bound to the caller's driver; `map` is valid for
/// writes.
#[no_mangle]
pub(crate) unsafe extern "C" fn hmm_dma_map_alloc(
    dev: *mut bindings::device,
    map: *mut bindings::hmm_dma_map,
    nr_entries: usize,
    dma_entry_size: usize,
) -> c_int {
    if dma_entry_size != PAGE_SIZE {
        return EINVAL.to_errno();
    }
    // SAFETY: `dev` is valid by the function's contract.
    let dev = unsafe { Device::as_ref(dev) };
    let dir = DataDirection::Bidirectional;
    let made = Slots::new(dev, nr_entries, dir).and_then(|slots| {
        let iova = match &slots.path {
            Path::Iova(state) => Some(state.addr),
            Path::Streaming(_) => None,
        };
        Ok(DmaMap {
            pfns: Words::new(nr_entries)?,
            dir,
            dma: Dma::Plain(slots),
            iova,
            check_write: false,
        })
    });
    match made {
        Ok(this) => {
            // SAFETY: `map` is valid for writes by the function's contract.
            unsafe { this.into_c(map) };
            0
        }
        Err(err) => err.to_errno(),
    }
}

/// Tears down the DMA mappings of an HMM range; see
/// `include/linux/hmm-dma.h`.
///
/// # Safety
///
/// `dev` and `*map` are as [`hmm_dma_map_alloc`] left them; the device is
/// done with the entries.
#[no_mangle]
pub(crate) unsafe extern "C" fn hmm_dma_map_free(
    dev: *mut bindings::device,
    map: *mut bindings::hmm_dma_map,
) {
    // SAFETY: `map` is valid by the function's contract.
    if unsafe { (*map).pfn_list.is_null() } {
        return;
    }
    // SAFETY: By the function's contract; dropping the map unmaps what is
    // still mapped.
    drop(unsafe { DmaMap::from_c(dev, map) });
    // SAFETY: `map` is valid for writes.
    unsafe { map.write(Default::default()) };
}

/// Maps an entry; see `include/linux/hmm-dma.h`.
///
/// # Safety
///
/// As for [`hmm_dma_map_free`] (a map freed already gets
/// `DMA_MAPPING_ERROR`), and the entry's page stays allocated until
/// the entry is unmapped; `p2pdma_state` is null or a state of the caller
/// for `dev`.
#[no_mangle]
pub(crate) unsafe extern "C" fn hmm_dma_map_pfn(
    dev: *mut bindings::device,
    map: *mut bindings::hmm_dma_map,
    idx: usize,
    p2pdma_state: *mut bindings::pci_p2pdma_map_state,
) -> DmaAddress {
    let mut p2p = if p2pdma_state.is_null() {
        P2p::new()
    } else {
        // SAFETY: A valid state of the caller's.
        P2p::from_raw(unsafe { *p2pdma_state })
    };
    let f = |this: &mut DmaMap| {
        // SAFETY: By the function's contract the page stays allocated while
        // the entry is mapped.
        unsafe { this.map_pfn_with(idx, &mut p2p) }
    };
    // SAFETY: By the function's contract.
    let addr = unsafe { with_map(dev, map, f) };
    if !p2pdma_state.is_null() {
        // SAFETY: As above.
        unsafe { *p2pdma_state = p2p.as_raw() };
    }
    addr.and_then(|addr| addr.ok()).unwrap_or(MAPPING_ERROR)
}

/// Unmaps an entry; see `include/linux/hmm-dma.h`.
///
/// # Safety
///
/// As for [`hmm_dma_map_free`], for the entry; a map freed already has
/// nothing mapped (an invalidation may come after the driver freed it).
#[no_mangle]
pub(crate) unsafe extern "C" fn hmm_dma_unmap_pfn(
    dev: *mut bindings::device,
    map: *mut bindings::hmm_dma_map,
    idx: usize,
) -> bool {
    // SAFETY: By the function's contract.
    unsafe {
        with_map(dev, map, |this| {
            // Upstream's answer: true for a valid entry that was mapped.
            let valid = this.pfns.get(idx).is_some_and(|w| w & VALID != 0);
            valid && this.unmap_pfn(idx)
        })
    }
    .unwrap_or(false)
}
