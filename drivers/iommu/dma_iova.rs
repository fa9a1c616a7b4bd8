// SPDX-License-Identifier: GPL-2.0

//! The two-step IOVA DMA mapping API.
//!
//! A driver reserves IOVA for a whole transfer with `dma_iova_try_alloc()`,
//! maps physical ranges into it with `dma_iova_link()`, makes them visible to
//! the device with one `dma_iova_sync()`, and tears down with
//! `dma_iova_destroy()`, or with `dma_iova_unlink()` and `dma_iova_free()`.
//! The functions have the C signatures of upstream Linux, so C drivers and
//! the Rust abstractions share this one implementation.
//!
//! IOVA comes from the DMA domain's own allocator (`iommu_dma_iova_*()` in
//! `dma-iommu.c`); mappings are made through [`kernel::iommu::Domain`],
//! without an IOTLB sync per link.
//!
//! Teardown never unmaps across a hole: it finds the linked granules with
//! `iova_to_phys` and unmaps each run of them, because some IOMMU drivers
//! (virtio-iommu) drop every mapping of a range that holds a hole without
//! telling the device.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use core::{
    pin::Pin,
    ptr,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    alloc::flags::GFP_ATOMIC,
    bindings, c_str,
    dma::{Attrs, DataDirection},
    error::{code::*, Result},
    ffi::{c_int, c_uint, c_ulong, c_void},
    iommu::{Domain, Gather, Prot, Visit},
    str::CStr,
};

// bindgen cannot translate these C constants, above `i64::MAX`;
// dma_iova_exports.c asserts that they match the C definitions.
const USE_SWIOTLB: u64 = 1 << 63;
const KEEP_IOVA: u64 = 1 << 62;
const MAPPING_ERROR: u64 = u64::MAX;

/// A device's DMA domain, as the engine maps through it.
///
/// # Invariants
///
/// `dev` is a valid device whose DMA domain is `domain`, a paging domain
/// with `granule`, a power of two, as its smallest page size.
struct Target<'a> {
    dev: *mut bindings::device,
    domain: &'a Domain,
    granule: u64,
}

impl Target<'_> {
    /// The target of `dev`, or `None` when `dev` does not use a DMA domain.
    ///
    /// # Safety
    ///
    /// `dev` is a valid device, bound to the calling driver for the lifetime
    /// of the returned value, so that its DMA domain stays attached.
    unsafe fn of(dev: *mut bindings::device) -> Option<Self> {
        // SAFETY: `dev` is valid by the function's contract.
        let domain = unsafe { bindings::iommu_dma_iova_domain(dev) };
        if domain.is_null() {
            return None;
        }
        // SAFETY: The DMA domain of a bound device stays attached while it
        // is bound, which the caller guarantees.
        let domain = unsafe { Domain::from_raw(domain) };
        let granule = domain.granule() as u64;
        if granule == 0 || !domain.is_paging() {
            return None;
        }
        // INVARIANT: `domain` is the paging DMA domain of the valid `dev`,
        // and a granule from a page-size bitmap is a power of two.
        Some(Self {
            dev,
            domain,
            granule,
        })
    }

    /// Offset of `addr` in its granule.
    #[inline]
    fn offset(&self, addr: u64) -> u64 {
        addr & (self.granule - 1)
    }

    /// `len` rounded up to whole granules.
    #[inline]
    fn align(&self, len: u64) -> Option<u64> {
        Some(len.checked_add(self.granule - 1)? & !(self.granule - 1))
    }

    fn coherent(&self) -> bool {
        // SAFETY: `dev` is valid by the type invariant.
        unsafe { bindings::dev_is_dma_coherent(self.dev) }
    }

    fn lazy(&self) -> bool {
        // SAFETY: `domain` is the DMA domain of `dev` by the type invariant.
        unsafe { bindings::iommu_dma_iova_lazy(self.domain.as_raw()) }
    }

    /// Maps the granule-aligned `[iova, iova + len)` to `phys`, after the
    /// cache maintenance a non-coherent device needs.
    ///
    /// # Safety
    ///
    /// The range is reserved by the caller and unmapped, and the memory may
    /// be accessed by the device as `dir` says until it is unmapped.
    unsafe fn map(
        &self,
        iova: u64,
        phys: u64,
        len: u64,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Result {
        let coherent = self.coherent();
        if !coherent && !attrs.contains(Attrs::SKIP_CPU_SYNC) {
            // SAFETY: `[phys, phys + len)` is memory the caller maps.
            unsafe { bindings::arch_sync_dma_for_device(phys, len as usize, dir.as_raw()) };
        }
        let prot = Prot::for_dma(dir, coherent, attrs);
        // SAFETY: The caller owns the unmapped range and lets the device
        // access the memory.
        unsafe {
            self.domain
                .map(iova as usize, phys, len as usize, prot, GFP_ATOMIC)
        }
    }

    /// Bounces `len` bytes at offset `off` of the granule at `gphys` through
    /// swiotlb and maps the bounce granule at `giova`.
    ///
    /// swiotlb hands out a granule-aligned buffer, so the copy starts at the
    /// granule: the `off` bytes before the range are not the caller's and
    /// are zeroed, as is the rest of the granule after it, before the
    /// device can see the buffer.
    ///
    /// # Safety
    ///
    /// As for [`Target::map`], for one granule.
    unsafe fn bounce(
        &self,
        giova: u64,
        gphys: u64,
        off: u64,
        len: u64,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Result {
        // SAFETY: `dev` is valid; swiotlb reads `[gphys, gphys + off + len)`,
        // RAM of the granule the caller maps part of.
        let tlb = unsafe {
            bindings::swiotlb_tbl_map_single(
                self.dev,
                gphys,
                (off + len) as usize,
                (self.granule - 1) as c_uint,
                dir.as_raw(),
                attrs.as_raw(),
            )
        };
        if tlb == MAPPING_ERROR {
            return Err(ENOMEM);
        }
        // SAFETY: swiotlb allocated whole granules from `tlb`, which is
        // granule-aligned and mapped in the kernel's direct map.
        unsafe {
            let va = bindings::phys_to_virt(tlb).cast::<u8>();
            ptr::write_bytes(va, 0, off as usize);
            ptr::write_bytes(
                va.add((off + len) as usize),
                0,
                (self.granule - off - len) as usize,
            );
        }
        // SAFETY: The caller reserved the granule at `giova`; the bounce
        // buffer is ours until we unmap it.
        let ret = unsafe { self.map(giova, tlb, self.granule, dir, attrs) };
        if ret.is_err() {
            // SAFETY: `tlb` is the buffer just allocated, not mapped.
            unsafe { self.release_bounce(tlb, off + len, dir, attrs) };
        }
        ret
    }

    /// Gives a bounce buffer back to swiotlb, without copying it back.
    ///
    /// # Safety
    ///
    /// `tlb` is a bounce buffer of `dev` of `len` bytes that the device can
    /// no longer reach.
    unsafe fn release_bounce(&self, tlb: u64, len: u64, dir: DataDirection, attrs: Attrs) {
        // SAFETY: By the function's contract.
        unsafe {
            bindings::swiotlb_tbl_unmap_single(
                self.dev,
                tlb,
                len as usize,
                dir.as_raw(),
                attrs.as_raw() | Attrs::SKIP_CPU_SYNC.as_raw(),
            )
        };
    }

    /// Unmaps one bounced granule and releases its swiotlb buffer: the
    /// device loses the buffer first, then the CPU's view of it is made
    /// current and the bytes `[off, off + len)` of it are copied back.
    fn unbounce(
        &self,
        giova: u64,
        tlb: u64,
        off: u64,
        len: u64,
        dir: DataDirection,
        attrs: Attrs,
    ) -> bool {
        let whole = self.granule as usize;
        let done = Gather::with(self.domain, false, |mut gather| {
            // SAFETY: The granule is the caller's and mapped.
            let gone = unsafe { self.domain.unmap(giova as usize, whole, gather.as_mut()) };
            gather.sync();
            gone >= whole
        });
        if !done {
            // The device may still reach the buffer: it cannot be reused.
            return false;
        }
        if !attrs.contains(Attrs::SKIP_CPU_SYNC) && dir != DataDirection::ToDevice {
            if !self.coherent() {
                // SAFETY: `tlb` is the bounce buffer, memory of the kernel.
                unsafe { bindings::arch_sync_dma_for_cpu(tlb + off, len as usize, dir.as_raw()) };
            }
            // SAFETY: `tlb` is a live bounce buffer of `dev`, covering the
            // granule; swiotlb copies only towards the caller's bytes.
            unsafe {
                bindings::swiotlb_sync_single_for_cpu(
                    self.dev,
                    tlb + off,
                    len as usize,
                    dir.as_raw(),
                )
            };
        }
        // SAFETY: The buffer is no longer reachable by the device.
        unsafe { self.release_bounce(tlb, off + len, dir, attrs) };
        true
    }

    /// Unmaps whatever is linked from `start` to `last` (the last byte) into
    /// `gather`: runs of linked granules go to the IOMMU whole, holes are
    /// skipped. Bounced granules are copied back and released, and a
    /// non-coherent device's caches are maintained, which needs each
    /// granule's physical address.
    ///
    /// Returns whether the range held a hole, and whether everything linked
    /// was removed.
    fn unlink(
        &self,
        swiotlb: bool,
        start: u64,
        last: u64,
        dir: DataDirection,
        attrs: Attrs,
        gather: Pin<&mut Gather<'_>>,
    ) -> (bool, bool) {
        let g = self.granule;
        let cpu_sync = !self.coherent()
            && !attrs.contains(Attrs::SKIP_CPU_SYNC)
            && dir != DataDirection::ToDevice;
        let visit = |at: usize, phys: u64| {
            let at = at as u64;
            // The bytes of the range in this granule.
            let lo = start.max(at) - at;
            let hi = last.min(at + (g - 1)) - at + 1;
            // SAFETY: `dev` is valid; the lookup only reads swiotlb's pools.
            if swiotlb && !unsafe { bindings::swiotlb_find_pool(self.dev, phys) }.is_null() {
                return Visit::Handled(self.unbounce(at, phys, lo, hi - lo, dir, attrs));
            }
            if cpu_sync {
                // SAFETY: `phys` is the memory this granule maps.
                unsafe {
                    bindings::arch_sync_dma_for_cpu(phys + lo, (hi - lo) as usize, dir.as_raw())
                };
            }
            Visit::Join
        };
        // SAFETY: The range is the caller's reservation, widened to whole
        // granules (`last | (g - 1)` cannot overflow); `visit` unmaps only
        // the bounced granule it is shown.
        let (holes, done) = unsafe {
            self.domain.unmap_present(
                (start & !(g - 1)) as usize,
                (last | (g - 1)) as usize,
                gather,
                visit,
            )
        };
        if !done {
            warn_once(
                &UNSPLIT,
                self.dev,
                c_str!("dma_iova: the IOMMU kept part of [%#llx, %#llx]: unlink whole links\n"),
                start,
                last,
            );
        }
        (holes, done)
    }
}

static UNSPLIT: AtomicBool = AtomicBool::new(false);
static UNLINKED: AtomicBool = AtomicBool::new(false);
static BAD_CALL: AtomicBool = AtomicBool::new(false);

/// Warns about a misuse once per boot, like `dev_warn_once()`.
fn warn_once(done: &AtomicBool, dev: *mut bindings::device, fmt: &CStr, a: u64, b: u64) {
    if !done.swap(true, Ordering::Relaxed) {
        // SAFETY: `dev` is a valid device and `fmt` a format taking two
        // `u64` values.
        unsafe { bindings::_dev_warn(dev, fmt.as_char_ptr(), a, b) };
    }
}

/// The reserved size of `state`, without the flags.
#[inline]
fn reserved(state: &bindings::dma_iova_state) -> u64 {
    state.__size & !(USE_SWIOTLB | KEEP_IOVA)
}

/// Checks that `[offset, offset + size)` is a non-empty part of the
/// reservation; returns its IOVA.
fn span(state: &bindings::dma_iova_state, offset: usize, size: usize) -> Result<u64> {
    if reserved(state) == 0 || size == 0 {
        return Err(EINVAL);
    }
    let end = (offset as u64).checked_add(size as u64).ok_or(EOVERFLOW)?;
    if end > reserved(state) {
        return Err(EINVAL);
    }
    Ok(state.addr + offset as u64)
}

/// Reserves IOVA for a transfer; see `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// `dev` is a valid device bound to the caller's driver, and `state` points
/// to a `struct dma_iova_state` the caller owns.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_try_alloc(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    phys: bindings::phys_addr_t,
    size: usize,
) -> bool {
    // SAFETY: The caller owns `*state`.
    let state = unsafe { &mut *state };
    *state = bindings::dma_iova_state { addr: 0, __size: 0 };

    if size == 0 || size as u64 & (USE_SWIOTLB | KEEP_IOVA) != 0 {
        return false;
    }
    // SAFETY: `dev` is valid and bound, by the function's contract.
    let Some(t) = (unsafe { Target::of(dev) }) else {
        return false;
    };
    let off = t.offset(phys);
    let Some(len) = t.align(size as u64 + off) else {
        return false;
    };
    // SAFETY: `domain` is the DMA domain of `dev`; `len` is whole granules.
    let iova = unsafe { bindings::iommu_dma_iova_alloc(dev, t.domain.as_raw(), len as usize) };
    if iova == 0 {
        return false;
    }
    state.addr = iova + off;
    state.__size = size as u64;
    true
}

/// Releases a reservation; see `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`]; nothing is linked in `state` any more.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_free(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
) {
    // SAFETY: The caller owns `*state`.
    let state = unsafe { &mut *state };
    if reserved(state) != 0 {
        // SAFETY: `dev` is valid and bound, by the function's contract.
        if let Some(t) = unsafe { Target::of(dev) } {
            free_iova(&t, state, ptr::null_mut());
        }
    }
    *state = bindings::dma_iova_state { addr: 0, __size: 0 };
}

/// What a teardown unmaps with: the reservation's size, its direction and
/// attributes (an unknown direction copies nothing back), and whether it
/// bounces through swiotlb.
struct Teardown {
    size: u64,
    dir: DataDirection,
    attrs: Attrs,
    swiotlb: bool,
}

/// Tears down the reservation `state` of `dev`: `unmap` unmaps what is
/// linked into the gather it is given, setting `KEEP_IOVA` when part of a
/// link stays mapped; then the IOVA is freed, its flush queued with it in
/// lazy mode, or, under `KEEP_IOVA`, flushed and leaked. The state ends
/// zeroed.
///
/// # Safety
///
/// As for [`dma_iova_destroy`].
unsafe fn teardown(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
    unmap: impl FnOnce(&Target<'_>, &mut bindings::dma_iova_state, &Teardown, Pin<&mut Gather<'_>>),
) {
    // SAFETY: The caller owns `*state`.
    let state = unsafe { &mut *state };
    let size = reserved(state);
    // SAFETY: `dev` is valid and bound, by the function's contract.
    let target = unsafe { Target::of(dev) };
    if let (true, Some(t)) = (size != 0, target) {
        let mut attrs = Attrs::from_raw(attrs);
        let dir = DataDirection::try_from(dir).unwrap_or_else(|_| {
            attrs |= Attrs::SKIP_CPU_SYNC;
            DataDirection::Bidirectional
        });
        let how = Teardown {
            size,
            dir,
            attrs,
            swiotlb: state.__size & USE_SWIOTLB != 0,
        };
        // Bounced granules are released only after a synchronous flush.
        Gather::with(t.domain, t.lazy() && !how.swiotlb, |mut gather| {
            unmap(&t, state, &how, gather.as_mut());
            if state.__size & KEEP_IOVA != 0 {
                // `free_iova()` leaks the IOVA.
                gather.sync();
            } else if gather.is_queued() {
                free_iova(&t, state, gather.as_raw());
            } else {
                gather.sync();
                free_iova(&t, state, ptr::null_mut());
            }
        });
    }
    *state = bindings::dma_iova_state { addr: 0, __size: 0 };
}

fn free_iova(
    t: &Target<'_>,
    state: &bindings::dma_iova_state,
    gather: *mut bindings::iommu_iotlb_gather,
) {
    if state.__size & KEEP_IOVA != 0 {
        // Part of a link is still mapped: reusing the IOVA would map over
        // it, so it is leaked (and was warned about).
        return;
    }
    let off = t.offset(state.addr);
    // The reservation was allocated with this size, so it cannot overflow.
    let len = t.align(reserved(state) + off).unwrap_or(0);
    // SAFETY: This is the IOVA `dma_iova_try_alloc()` allocated in this
    // domain, with its size; `gather` is null or the queued gather of its
    // unmap.
    unsafe {
        bindings::iommu_dma_iova_free(t.domain.as_raw(), state.addr - off, len as usize, gather)
    };
}

/// Maps a physical range into a reservation; see
/// `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`]; the device may access
/// `[phys, phys + size)` as `dir` says until it is unlinked.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_link(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    phys: bindings::phys_addr_t,
    offset: usize,
    size: usize,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) -> c_int {
    // SAFETY: Forwarded from the caller.
    match unsafe { link(dev, state, phys, offset, size, dir, attrs) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// As for [`dma_iova_link`].
unsafe fn link(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    phys: bindings::phys_addr_t,
    offset: usize,
    size: usize,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) -> Result {
    // SAFETY: The caller owns `*state`.
    let state = unsafe { &mut *state };
    let dir = DataDirection::try_from(dir)?;
    let attrs = Attrs::from_raw(attrs);
    let iova = span(state, offset, size)?;
    let size = size as u64;
    let end_phys = phys.checked_add(size).ok_or(EOVERFLOW)?;
    // SAFETY: `dev` is valid and bound, by the function's contract.
    let t = unsafe { Target::of(dev) }.ok_or(ENODEV)?;

    // Only the first link may start inside a granule, at the offset the
    // reservation was made for. Teardown finds links with iova_to_phys(),
    // which cannot tell a mapping of physical page 0 from none.
    let pad = t.offset(phys);
    if t.offset(iova) != pad || (pad != 0 && offset != 0) || phys < t.granule {
        return Err(EINVAL);
    }

    // Only a partial granule may bounce: the cheap test first.
    let bounce = (pad != 0 || t.offset(end_phys) != 0)
        // SAFETY: `dev` is valid.
        && unsafe { bindings::iommu_dma_iova_use_swiotlb(dev, size as usize, dir.as_raw()) };
    if !bounce {
        let len = t.align(size + pad).ok_or(EOVERFLOW)?;
        // SAFETY: The range is part of the caller's reservation, and the
        // caller lets the device access the memory.
        return unsafe { t.map(iova - pad, phys - pad, len, dir, attrs) };
    }

    // Bounce the partial head and tail granules; map the middle directly.
    let g = t.granule;
    let head = if pad != 0 { size.min(g - pad) } else { 0 };
    let tail = if head < size { t.offset(end_phys) } else { 0 };
    let middle = size - head - tail;
    let mut done = 0;
    let mut step = || -> Result {
        if head != 0 {
            // SAFETY: As above, for the first granule.
            unsafe { t.bounce(iova - pad, phys - pad, pad, head, dir, attrs) }?;
            done = head;
        }
        if middle != 0 {
            // SAFETY: As above; the middle is whole granules.
            unsafe { t.map(iova + done, phys + done, middle, dir, attrs) }?;
            done += middle;
        }
        if tail != 0 {
            // SAFETY: As above, for the last granule.
            unsafe { t.bounce(iova + done, phys + done, 0, tail, dir, attrs) }?;
        }
        Ok(())
    };
    let ret = step();
    match ret {
        Ok(()) => state.__size |= USE_SWIOTLB,
        // Each step undoes itself; undo the steps before the failing one.
        Err(_) if done != 0 => Gather::with(t.domain, false, |mut gather| {
            t.unlink(
                true,
                iova,
                iova + done - 1,
                dir,
                attrs | Attrs::SKIP_CPU_SYNC,
                gather.as_mut(),
            );
            gather.sync();
        }),
        Err(_) => (),
    }
    ret
}

/// Makes linked ranges visible to the device; see
/// `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`].
#[no_mangle]
pub unsafe extern "C" fn dma_iova_sync(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    offset: usize,
    size: usize,
) -> c_int {
    // SAFETY: The caller owns `*state`.
    let state = unsafe { &*state };
    let iova = match span(state, offset, size) {
        Ok(iova) => iova,
        Err(e) => return e.to_errno(),
    };
    // SAFETY: `dev` is valid and bound, by the function's contract.
    let Some(t) = (unsafe { Target::of(dev) }) else {
        return ENODEV.to_errno();
    };
    let pad = t.offset(iova);
    let len = t.align(size as u64 + pad).unwrap_or(0);
    match t.domain.sync_map((iova - pad) as usize, len as usize) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Unmaps part of a reservation; see `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`]; the device no longer uses the range.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_unlink(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    offset: usize,
    size: usize,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) {
    // SAFETY: The caller owns `*state`.
    let state = unsafe { &mut *state };
    let (iova, dir) = match (span(state, offset, size), DataDirection::try_from(dir)) {
        (Ok(iova), Ok(dir)) => (iova, dir),
        _ => {
            warn_once(
                &BAD_CALL,
                dev,
                c_str!("dma_iova_unlink: bad range [%#llx, +%#llx) or direction\n"),
                offset as u64,
                size as u64,
            );
            return;
        }
    };
    // SAFETY: `dev` is valid and bound, by the function's contract.
    let Some(t) = (unsafe { Target::of(dev) }) else {
        return;
    };
    let swiotlb = state.__size & USE_SWIOTLB != 0;
    // `span()` checked that the range is in the reservation, so its last
    // byte does not overflow.
    let last = iova + (size as u64 - 1);
    let (holes, done) = Gather::with(t.domain, false, |mut gather| {
        let ret = t.unlink(
            swiotlb,
            iova,
            last,
            dir,
            Attrs::from_raw(attrs),
            gather.as_mut(),
        );
        gather.sync();
        ret
    });
    if !done {
        state.__size |= KEEP_IOVA;
    }
    if holes {
        warn_once(
            &UNLINKED,
            dev,
            c_str!("dma_iova_unlink: part of [%#llx, %#llx] was not linked\n"),
            iova,
            last,
        );
    }
}

/// Unlinks everything and releases a reservation; see
/// `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`]; the device no longer uses the
/// reservation.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_destroy(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    mapped_len: usize,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) {
    let unmap = |t: &Target<'_>,
                 state: &mut bindings::dma_iova_state,
                 how: &Teardown,
                 gather: Pin<&mut Gather<'_>>| {
        let len = (mapped_len as u64).min(how.size);
        if len != 0
            && !t
                .unlink(
                    how.swiotlb,
                    state.addr,
                    state.addr + (len - 1),
                    how.dir,
                    how.attrs,
                    gather,
                )
                .1
        {
            state.__size |= KEEP_IOVA;
        }
    };
    // SAFETY: By the function's contract.
    unsafe { teardown(dev, state, dir, attrs, unmap) };
}

/// Unlinks the runs a caller gives and releases a reservation; see
/// `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_destroy`]; `next` may be called with `ctx` and two
/// pointers to `usize` until it returns false.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_destroy_runs(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    next: Option<unsafe extern "C" fn(*mut c_void, *mut usize, *mut usize) -> bool>,
    ctx: *mut c_void,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) {
    let unmap = |t: &Target<'_>,
                 state: &mut bindings::dma_iova_state,
                 how: &Teardown,
                 mut gather: Pin<&mut Gather<'_>>| {
        let (size, dir, attrs, swiotlb) = (how.size, how.dir, how.attrs, how.swiotlb);
        // Nothing to do per granule: a run is one unmap call.
        let blind = !swiotlb
            && (t.coherent()
                || attrs.contains(Attrs::SKIP_CPU_SYNC)
                || dir == DataDirection::ToDevice);
        let g = t.granule;
        // The first granule a run may start in.
        let mut free_from = 0u64;
        let (mut offset, mut len) = (0usize, 0usize);
        let mut as_given = true;
        // No function: no runs.
        // SAFETY: By the function's contract.
        while next.is_some_and(|next| unsafe { next(ctx, &mut offset, &mut len) }) {
            let (off, n) = (offset as u64, len as u64);
            let Some(end) = off.checked_add(n).filter(|&e| n != 0 && e <= size) else {
                as_given = false;
                break;
            };
            // The run in whole granules of the domain.
            let first = (state.addr + off) & !(g - 1);
            let last = (state.addr + end - 1) | (g - 1);
            if first < free_from {
                as_given = false;
                break;
            }
            free_from = last + 1;
            let done = if blind {
                let want = (last - first + 1) as usize;
                // SAFETY: The caller linked exactly this run, in this
                // domain, and the device no longer uses it.
                let unmapped = unsafe { t.domain.unmap(first as usize, want, gather.as_mut()) };
                unmapped == want
            } else {
                let (holes, done) = t.unlink(
                    swiotlb,
                    state.addr + off,
                    state.addr + end - 1,
                    dir,
                    attrs,
                    gather.as_mut(),
                );
                done && !holes
            };
            if !done {
                as_given = false;
                break;
            }
        }
        if !as_given {
            warn_once(
                &BAD_CALL,
                dev,
                c_str!("dma_iova_destroy_runs: run [%#llx, +%#llx) was not linked as given\n"),
                offset as u64,
                len as u64,
            );
            // Look every granule up for what is still mapped; but a run
            // unmapped blindly over a hole may have left a mapping the
            // lookup cannot see (virtio-iommu), so the IOVA is never
            // reused.
            state.__size |= KEEP_IOVA;
            t.unlink(
                swiotlb,
                state.addr,
                state.addr + (size - 1),
                dir,
                attrs,
                gather,
            );
        }
    };
    // SAFETY: By the function's contract.
    unsafe { teardown(dev, state, dir, attrs, unmap) };
}

/// Whether streaming mappings of `dev` need unmapping; see
/// `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// `dev` is a valid device.
#[no_mangle]
pub unsafe extern "C" fn dma_need_unmap(dev: *mut bindings::device) -> bool {
    // SAFETY: `dev` is valid by the function's contract.
    let (iommu, ops) = unsafe { (bindings::use_dma_iommu(dev), bindings::get_dma_ops(dev)) };
    // An IOMMU or DMA ops (bypassed or not) may hold a mapping; dma-direct
    // only unmaps to bounce or to maintain caches.
    // SAFETY: `dev` is valid by the function's contract.
    iommu || !ops.is_null() || !unsafe { skips_sync(dev) } || cfg!(CONFIG_DMA_API_DEBUG)
}

/// Whether dma-direct may skip syncs, and so unmaps, for `dev`.
///
/// # Safety
///
/// `dev` is a valid device.
#[cfg(CONFIG_DMA_NEED_SYNC)]
unsafe fn skips_sync(dev: *mut bindings::device) -> bool {
    // SAFETY: `dev` is valid by the function's contract.
    unsafe { (*dev).dma_skip_sync() }
}

/// # Safety
///
/// `dev` is a valid device.
#[cfg(not(CONFIG_DMA_NEED_SYNC))]
unsafe fn skips_sync(_dev: *mut bindings::device) -> bool {
    true
}
