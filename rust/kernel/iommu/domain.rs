// SPDX-License-Identifier: GPL-2.0

//! An IOMMU domain and the ops of the IOMMU driver behind it.
//!
//! This drives `struct iommu_domain_ops` directly, so that a caller can map
//! many ranges and flush the IOTLB once, and unmap many ranges into one
//! gather: the batching the two-step DMA API is built on. It does what the C
//! `iommu_map()` and `iommu_unmap_fast()` do for one range, without their
//! per-call synchronisation.
//!
//! C header: [`include/linux/iommu.h`](srctree/include/linux/iommu.h)

use super::Prot;
use crate::{
    alloc::Flags,
    bindings,
    device::Device,
    error::{code::*, to_result, Result},
    types::Opaque,
};
use core::pin::{pin, Pin};

/// A CPU physical address, as the IOMMU maps it.
pub type PhysAddr = bindings::phys_addr_t;

/// An IOMMU domain: one I/O address space and the IOMMU driver that owns it.
///
/// # Invariants
///
/// The wrapped `struct iommu_domain` is valid, with valid `ops`, for the
/// lifetime of every reference to a [`Domain`].
#[repr(transparent)]
pub struct Domain(Opaque<bindings::iommu_domain>);

// SAFETY: A domain is not tied to the thread that allocated it; IOMMU drivers
// free it from any thread.
unsafe impl Send for Domain {}

// SAFETY: The domain ops may be called concurrently from any thread, as the
// DMA API does: IOMMU drivers serialise their page-table updates themselves,
// and concurrent callers map disjoint IOVA ranges.
unsafe impl Sync for Domain {}

impl Domain {
    /// Creates a reference to a [`Domain`] from a valid pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a valid `struct iommu_domain` that is neither
    /// freed nor replaced while the returned reference lives.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::iommu_domain) -> &'a Self {
        // SAFETY: `Domain` is a transparent wrapper of `iommu_domain`, and the
        // caller guarantees that `ptr` stays valid for `'a`.
        unsafe { &*ptr.cast() }
    }

    /// Returns the domain `dev` is attached to, if it is behind an IOMMU.
    ///
    /// # Safety
    ///
    /// The domain of `dev` must not change while the returned reference
    /// lives: typically the caller is the driver of `dev`, bound for that
    /// time, and attaches no domain of its own.
    pub unsafe fn of_device(dev: &Device) -> Option<&Self> {
        // SAFETY: `dev` is a valid device; the function copes with devices
        // that have no IOMMU group.
        let ptr = unsafe { bindings::iommu_get_domain_for_dev(dev.as_raw()) };
        // SAFETY: `ptr` is null or the valid domain of `dev`, which the
        // caller guarantees stays attached for the returned lifetime.
        (!ptr.is_null()).then(|| unsafe { Self::from_raw(ptr) })
    }

    /// Returns the raw pointer to the C `struct iommu_domain`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::iommu_domain {
        self.0.get()
    }

    #[inline]
    fn ops(&self) -> &bindings::iommu_domain_ops {
        // SAFETY: By the type invariant the domain and its `ops` are valid.
        unsafe { &*(*self.as_raw()).ops }
    }

    /// The domain type: the C `IOMMU_DOMAIN_*` value.
    #[inline]
    pub fn kind(&self) -> u32 {
        // SAFETY: By the type invariant the domain is valid; its type does
        // not change after allocation.
        unsafe { (*self.as_raw()).type_ }
    }

    /// Whether the domain has page tables that map and unmap.
    #[inline]
    pub fn is_paging(&self) -> bool {
        self.kind() & bindings::__IOMMU_DOMAIN_PAGING != 0
    }

    /// Whether the DMA API manages this domain (`IOMMU_DOMAIN_DMA` or
    /// `IOMMU_DOMAIN_DMA_FQ`), rather than a driver or the identity map.
    #[inline]
    pub fn is_dma_api(&self) -> bool {
        self.kind() & bindings::__IOMMU_DOMAIN_DMA_API != 0
    }

    /// The page sizes the domain maps, as a bitmap of sizes.
    #[inline]
    pub fn pgsize_bitmap(&self) -> usize {
        // SAFETY: By the type invariant the domain is valid.
        unsafe { (*self.as_raw()).pgsize_bitmap }
    }

    /// The smallest page size of the domain (0 for a domain that does not
    /// page, such as an identity domain).
    #[inline]
    pub fn granule(&self) -> usize {
        let bitmap = self.pgsize_bitmap();
        if bitmap == 0 {
            0
        } else {
            1 << bitmap.trailing_zeros()
        }
    }

    /// The physical address the domain translates `iova` to, 0 if none.
    #[inline]
    pub fn iova_to_phys(&self, iova: bindings::dma_addr_t) -> PhysAddr {
        // SAFETY: By the type invariant the domain is valid.
        unsafe { bindings::iommu_iova_to_phys(self.as_raw(), iova) }
    }

    /// Maps one granule at `iova` to `paddr` without synchronising the
    /// IOTLB: [`Domain::map`] for the commonest case, with nothing to check
    /// or choose. On failure nothing is left mapped.
    ///
    /// # Safety
    ///
    /// - `iova` and `paddr` are multiples of the granule, which is not 0.
    /// - As for [`Domain::map`], for the granule.
    #[inline(always)]
    pub unsafe fn map_granule(
        &self,
        iova: usize,
        paddr: PhysAddr,
        prot: Prot,
        gfp: Flags,
    ) -> Result {
        let map_pages = self.ops().map_pages.ok_or(ENODEV)?;
        let granule = self.granule();
        let mut mapped = 0;
        // SAFETY: The domain is valid by the type invariant; the caller owns
        // the aligned granule and lets the device access the memory.
        let err = unsafe {
            map_pages(
                self.as_raw(),
                iova,
                paddr,
                granule,
                1,
                prot.as_raw(),
                gfp.as_raw(),
                &mut mapped,
            )
        };
        if (err == 0) & (mapped == granule) {
            return Ok(());
        }
        // SAFETY: The caller owns the granule, which held nothing before.
        unsafe { self.unmap_failed(iova, granule) };
        if err != 0 {
            to_result(err)
        } else {
            Err(EIO)
        }
    }

    /// Maps `[iova, iova + size)` to `[paddr, paddr + size)` without
    /// synchronising the IOTLB: see [`Domain::sync_map`].
    ///
    /// `iova`, `paddr` and `size` must be multiples of the granule. Each
    /// step uses the largest page size that the alignment of both addresses
    /// and the remaining size allow. On failure, whatever this call mapped
    /// is unmapped again and flushed, so nothing is left behind.
    ///
    /// # Safety
    ///
    /// - The caller owns `[iova, iova + size)` in this domain (it allocated
    ///   it), and nothing is mapped there.
    /// - The device may access `[paddr, paddr + size)` as `prot` allows, for
    ///   as long as the mapping exists.
    #[inline(always)]
    pub unsafe fn map(
        &self,
        iova: usize,
        paddr: PhysAddr,
        size: usize,
        prot: Prot,
        gfp: Flags,
    ) -> Result {
        let map_pages = self.ops().map_pages.ok_or(ENODEV)?;
        let granule = self.granule();
        // One branch for all three (`|`, not `||`: none has a side effect).
        if (granule == 0)
            | (size == 0)
            | ((iova | paddr as usize | size) & granule.wrapping_sub(1) != 0)
        {
            return Err(EINVAL);
        }
        iova.checked_add(size - 1).ok_or(EOVERFLOW)?;

        if size == granule {
            // One page of the smallest size: no choice to make.
            // SAFETY: Aligned to the granule (checked above); otherwise by
            // the function's contract.
            return unsafe { self.map_granule(iova, paddr, prot, gfp) };
        }

        let mut done = 0usize;
        let mut ret = Ok(());
        while done < size {
            // `done < size` and the range does not wrap (checked above).
            let (at, pa) = (iova.wrapping_add(done), paddr.wrapping_add(done as u64));
            let (pgsize, count) =
                choose_pgsize(self.pgsize_bitmap(), at, pa, size.wrapping_sub(done));
            if count == 0 {
                ret = Err(EINVAL);
                break;
            }
            let mut mapped = 0;
            // SAFETY: The domain is valid by the type invariant; the caller
            // owns the range and lets the device access the memory.
            let err = unsafe {
                map_pages(
                    self.as_raw(),
                    at,
                    pa,
                    pgsize,
                    count,
                    prot.as_raw(),
                    gfp.as_raw(),
                    &mut mapped,
                )
            };
            done = done.wrapping_add(mapped);
            if err != 0 || mapped == 0 {
                ret = if err != 0 { to_result(err) } else { Err(EIO) };
                break;
            }
        }

        if ret.is_err() {
            // SAFETY: The caller owns the range, which held nothing before
            // this call; `iova + size - 1` was checked above.
            unsafe { self.unmap_failed(iova, size) };
        }
        ret
    }

    /// Removes whatever a failed [`Domain::map`] left in `[iova, iova +
    /// size)`: a driver may have mapped part of the failing step without
    /// saying so.
    ///
    /// # Safety
    ///
    /// The caller owns the range, which held nothing before the map.
    #[cold]
    unsafe fn unmap_failed(&self, iova: usize, size: usize) {
        Gather::with(self, false, |mut gather| {
            // SAFETY: By the function's contract; `iova + size - 1` does not
            // overflow (checked by `map`).
            unsafe {
                self.unmap_present(iova, iova + (size - 1), gather.as_mut(), |_, _| Visit::Join)
            };
            gather.sync();
        });
    }

    /// Unmaps every run of mapped granules from `iova` to `last` (the last
    /// byte of the range), skipping holes, into `gather`; finds them with
    /// [`Domain::iova_to_phys`], one lookup per granule.
    ///
    /// `visit(granule, phys)` is asked about each mapped granule first: it
    /// may leave the granule to the run ([`Visit::Join`]), or unmap it
    /// itself ([`Visit::Handled`]), which ends the run.
    ///
    /// Returns whether the range held a hole, and whether everything mapped
    /// in it is gone: an IOMMU driver may refuse to unmap part of a mapping
    /// it cannot split.
    ///
    /// # Safety
    ///
    /// The caller owns the range, which starts and ends on granule
    /// boundaries; `visit` unmaps at most the granule it is shown.
    pub unsafe fn unmap_present(
        &self,
        iova: usize,
        last: usize,
        mut gather: Pin<&mut Gather<'_>>,
        mut visit: impl FnMut(usize, PhysAddr) -> Visit,
    ) -> (bool, bool) {
        let granule = self.granule();
        let (mut holes, mut done) = (false, true);
        if granule == 0 || last < iova {
            return (holes, done);
        }
        let mut run = None;
        let mut at = iova;
        loop {
            let phys = self.iova_to_phys(at as u64);
            let join = phys != 0
                && match visit(at, phys) {
                    Visit::Join => true,
                    Visit::Handled(gone) => {
                        done &= gone;
                        false
                    }
                };
            if join {
                run.get_or_insert(at);
            } else {
                holes |= phys == 0;
                if let Some(from) = run.take() {
                    // SAFETY: The run is mapped throughout and the caller's.
                    done &= unsafe { self.unmap_all(from, at - 1, gather.as_mut()) };
                }
            }
            // `at + granule - 1 <= last` does not overflow.
            if at + (granule - 1) >= last {
                break;
            }
            at += granule;
        }
        if let Some(from) = run {
            // SAFETY: As above; the run ends with the range.
            done &= unsafe { self.unmap_all(from, last, gather) };
        }
        (holes, done)
    }

    /// Unmaps `from` to `last` (its last byte); returns whether the IOMMU
    /// driver removed all of it.
    ///
    /// # Safety
    ///
    /// As for [`Domain::unmap`].
    unsafe fn unmap_all(&self, from: usize, last: usize, gather: Pin<&mut Gather<'_>>) -> bool {
        let len = last - from + 1;
        // SAFETY: By the function's contract.
        unsafe { self.unmap(from, len, gather) >= len }
    }

    /// Makes the mappings of `[iova, iova + size)` visible to the device:
    /// the IOMMU driver's `iotlb_sync_map`, if it has one.
    pub fn sync_map(&self, iova: usize, size: usize) -> Result {
        match self.ops().iotlb_sync_map {
            // SAFETY: The domain is valid by the type invariant.
            Some(sync) => to_result(unsafe { sync(self.as_raw(), iova, size) }),
            None => Ok(()),
        }
    }

    /// Unmaps from `iova` on, for `size` bytes, gathering the IOTLB
    /// invalidation in `gather`; the caller syncs it with [`Gather::sync`]
    /// or hands it to the flush queue.
    ///
    /// Returns the bytes unmapped. It is less than `size` when the IOMMU
    /// driver stopped, at a hole or at a mapping it cannot split, and may be
    /// more when the driver removed a larger mapping whole.
    ///
    /// # Safety
    ///
    /// The caller owns `[iova, iova + size)` and the range holds no hole:
    /// some IOMMU drivers (virtio-iommu) forget every mapping of a range
    /// that has one without telling the device.
    #[inline]
    pub unsafe fn unmap(&self, iova: usize, size: usize, gather: Pin<&mut Gather<'_>>) -> usize {
        let Some(unmap_pages) = self.ops().unmap_pages else {
            return 0;
        };
        // The gather's invalidation and freed page tables are its domain's.
        if !core::ptr::eq(gather.domain, self) {
            return 0;
        }
        let covered = gather.covered.get();
        let mut done = 0usize;
        while done < size {
            // The caller's range: `iova + done` does not wrap.
            let at = iova.wrapping_add(done);
            let (pgsize, count) =
                choose_pgsize(self.pgsize_bitmap(), at, at as u64, size.wrapping_sub(done));
            if count == 0 {
                break;
            }
            if covered {
                // No page size yet: the driver sees nothing to sync for.
                // SAFETY: The gather is initialised and exclusively ours.
                unsafe { (*gather.as_raw()).pgsize = 0 };
            }
            // SAFETY: The domain is valid by the type invariant and the
            // caller owns the range; `gather` is pinned, initialised and
            // exclusively ours.
            let n = unsafe { unmap_pages(self.as_raw(), at, pgsize, count, gather.as_raw()) };
            if n == 0 {
                break;
            }
            done = done.saturating_add(n);
        }
        if covered {
            // The smallest page size invalidates every entry of the range.
            // SAFETY: As above.
            unsafe { (*gather.as_raw()).pgsize = self.granule() };
        }
        done
    }

    /// Invalidates the whole IOTLB of the domain.
    pub fn flush_all(&self) {
        if let Some(flush) = self.ops().flush_iotlb_all {
            // SAFETY: The domain is valid by the type invariant.
            unsafe { flush(self.as_raw()) };
        }
    }
}

/// What [`Domain::unmap_present`] does with a mapped granule.
pub enum Visit {
    /// Unmap it in one run with its mapped neighbours.
    Join,
    /// The visitor unmapped it itself: whether it is gone.
    Handled(bool),
}

/// Chooses the page size for the next step of mapping `size` bytes from
/// `iova` to `paddr` with the page sizes of `pgsize_bitmap`, and how many
/// pages of it to map in one call.
///
/// The page size is the largest that both addresses are aligned to and that
/// fits in `size`. The count stops where a larger page size becomes usable,
/// so that the next step can use it. The count is 0 when no page size fits:
/// misaligned addresses, or `size` below the smallest page size.
///
/// # Examples
///
/// ```
/// use kernel::iommu::domain::choose_pgsize;
///
/// const SZ_4K: usize = 0x1000;
/// const SZ_2M: usize = 0x20_0000;
/// let x86 = SZ_4K | SZ_2M | 0x4000_0000;
///
/// // 4 KiB pages up to the next 2 MiB boundary, which both addresses reach together.
/// assert_eq!(choose_pgsize(x86, 0x1f_e000, 0x3f_e000, 3 * SZ_2M), (SZ_4K, 2));
/// // From there, 2 MiB pages.
/// assert_eq!(choose_pgsize(x86, SZ_2M, 0x40_0000, 2 * SZ_2M + SZ_4K), (SZ_2M, 2));
/// // Addresses that never align together: 4 KiB pages all the way.
/// assert_eq!(choose_pgsize(x86, 0x1f_e000, 0x3f_f000, 3 * SZ_2M), (SZ_4K, 3 * 512));
/// // Every power of two from 4 KiB (virtio-iommu): the largest the alignment allows.
/// assert_eq!(choose_pgsize(!(SZ_4K - 1), 0x10_0000, 0x30_0000, 0x30_0000), (0x10_0000, 1));
/// // Nothing fits.
/// assert_eq!(choose_pgsize(x86, 0x800, 0x800, SZ_4K).1, 0);
/// assert_eq!(choose_pgsize(x86, 0, 0, 0).1, 0);
/// ```
#[inline(always)]
pub fn choose_pgsize(
    pgsize_bitmap: usize,
    iova: usize,
    paddr: PhysAddr,
    size: usize,
) -> (usize, usize) {
    // Sizes that fit in `size`...
    let mut sizes = pgsize_bitmap & usize::MAX.checked_shr(size.leading_zeros()).unwrap_or(0);
    // ...and that both addresses are aligned to.
    let merged = iova as u64 | paddr;
    if merged != 0 {
        sizes &= (u64::MAX >> (63u32.wrapping_sub(merged.trailing_zeros()))) as usize;
    }
    if sizes == 0 {
        // Misaligned or too small: no page fits.
        return (pgsize_bitmap & pgsize_bitmap.wrapping_neg(), 0);
    }
    // `sizes` is not 0, and powers of two are not 0: nothing below wraps.
    let shift = (usize::BITS - 1).wrapping_sub(sizes.leading_zeros());
    let pgsize = 1usize << shift;
    let mut count = size >> shift;

    let larger = pgsize_bitmap & !(pgsize | pgsize.wrapping_sub(1));
    if larger != 0 {
        let next = 1usize << larger.trailing_zeros();
        // Can both addresses reach a `next` boundary at the same time?
        if (iova as u64 ^ paddr) & (next as u64).wrapping_sub(1) == 0 {
            let to_boundary = next.wrapping_sub(iova & next.wrapping_sub(1));
            if to_boundary < size {
                count = count.min(to_boundary >> shift);
            }
        }
    }
    (pgsize, count)
}

/// IOTLB invalidations gathered while unmapping in one domain: the C
/// `struct iommu_iotlb_gather`.
///
/// It holds a list head that points to itself, hence it is pinned: it lives
/// on the stack of [`Gather::with`], and belongs to one domain.
///
/// A gather is either synchronised with [`Gather::sync`] or, when
/// [`Gather::is_queued`], handed to the DMA layer's flush queue together with
/// the IOVA it covers.
///
/// # Invariants
///
/// The wrapped gather is initialised, and only unmaps of `domain` fill it.
pub struct Gather<'d> {
    inner: Opaque<bindings::iommu_iotlb_gather>,
    domain: &'d Domain,
    /// Set by [`Gather::cover`] until the next sync.
    covered: core::cell::Cell<bool>,
}

impl<'d> Gather<'d> {
    /// Runs `f` with an empty gather for `domain`. A `queued` one defers
    /// its invalidation to the flush queue (the DMA domain's lazy mode).
    pub fn with<R>(
        domain: &'d Domain,
        queued: bool,
        f: impl FnOnce(Pin<&mut Gather<'d>>) -> R,
    ) -> R {
        let gather = pin!(Gather {
            inner: Opaque::uninit(),
            domain,
            covered: core::cell::Cell::new(false),
        });
        // SAFETY: The gather is pinned, so its list head may point to itself.
        unsafe { gather.init(queued) };
        // INVARIANT: Just initialised, for `domain`; `Domain::unmap` refuses
        // a gather of another domain.
        f(gather)
    }

    /// # Safety
    ///
    /// `self` is pinned, and no unmap into it is in progress.
    unsafe fn init(&self, queued: bool) {
        // SAFETY: `self.inner` is valid for writes; by the function's
        // contract it does not move and nobody else uses it.
        unsafe {
            bindings::iommu_iotlb_gather_init(self.as_raw());
            (*self.as_raw()).queued = queued;
        }
    }

    /// Returns the raw pointer to the C `struct iommu_iotlb_gather`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::iommu_iotlb_gather {
        self.inner.get()
    }

    /// Whether the invalidation is left to the flush queue.
    #[inline]
    pub fn is_queued(&self) -> bool {
        // SAFETY: The gather is initialised by the type invariant; unmaps
        // into it need a `Pin<&mut Gather>`, so none runs concurrently.
        unsafe { (*self.as_raw()).queued }
    }

    /// Gathers the range from `iova` to `last` (its last byte) whole, up
    /// front, so that unmaps of separate runs in it, with holes between
    /// them, are invalidated by the one sync that ends the gather.
    ///
    /// IOMMU drivers sync a gather as soon as an unmap is disjoint from
    /// what it holds or of another page size; a covered gather is never
    /// disjoint, and [`Domain::unmap`] leaves it the domain's smallest page
    /// size, which invalidates every entry of the range. A queued gather
    /// needs none of this: the flush queue flushes everything.
    pub fn cover(self: Pin<&mut Self>, iova: usize, last: usize) {
        if self.is_queued() || last < iova {
            return;
        }
        // SAFETY: The gather is initialised and exclusively ours; unmaps
        // into it need the `Pin<&mut Gather>` we hold.
        unsafe {
            let g = self.as_raw();
            (*g).start = (*g).start.min(iova);
            (*g).end = (*g).end.max(last);
            (*g).pgsize = self.domain.granule();
        }
        self.covered.set(true);
    }

    /// Invalidates the gathered range in the domain's IOTLB now and frees
    /// the page-table pages the unmaps released; then gathers anew.
    ///
    /// A queued gather has not recorded its range (the flush queue was to
    /// flush everything), so the whole IOTLB is invalidated first.
    pub fn sync(self: Pin<&mut Self>) {
        let queued = self.is_queued();
        if queued {
            self.domain.flush_all();
        }
        if let Some(sync) = self.domain.ops().iotlb_sync {
            // SAFETY: The domain is valid by its type invariant; the gather is
            // initialised, of this domain, and exclusively ours.
            unsafe { sync(self.domain.as_raw(), self.as_raw()) };
        }
        // SAFETY: `self` is pinned and exclusively ours.
        unsafe { self.init(queued) };
        self.covered.set(false);
    }
}
