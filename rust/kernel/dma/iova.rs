// SPDX-License-Identifier: GPL-2.0

//! The two-step DMA API: reserve IOVA once, link ranges into it, tear down in one call.
//!
//! A [`Reservation`] owns IOVA reserved for a device and knows which of its
//! granules are linked, so that:
//!
//! - every link and unlink is checked in Rust (bounds, alignment, overflow,
//!   overlap) before the C API is called;
//! - pages linked from safe code outlive the reservation (`'a`);
//! - teardown, by [`Drop`] or [`Reservation::destroy`], removes exactly what
//!   is linked, holes or not (the engine keeps a record of its own), so a
//!   driver can neither leak a mapping nor leave a stale one.
//!
//! The tracking costs three bits per granule (page) of the reservation: one
//! here, for the checks, and two in the engine's record of the links.
//!
//! A reservation belongs to its device's binding to a driver: it is made for
//! a [`Device<Bound>`], and if it is still there when the driver unbinds, it
//! is torn down then, in the IOMMU domain it was made in, and every later
//! call fails with `ENXIO` (see [`Devres`]). Its IOVA and its mappings cannot
//! outlive the domain: a new binding may come with another one.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{tied::Tied, Attrs, DataDirection, DmaAddress};
use crate::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    device::{Bound, Device},
    error::{code::*, to_result, Result},
    page::Page,
    types::ARef,
};
use core::marker::PhantomData;

/// The engine's reservation: its C state, torn down when dropped.
///
/// A [`Reservation`] keeps it [`Tied`] to the device's binding, so that the
/// driver's unbind drops it if the reservation is still there: the IOVA is
/// then freed, and whatever is linked unmapped, in the domain it was
/// reserved in, which stays attached until the unbind is over.
///
/// # Invariants
///
/// `state` holds a reservation of `dev` of `size` bytes from
/// `dma_iova_try_alloc()`, made in `dir` with `attrs`, until `self` is
/// dropped.
struct Iova {
    dev: ARef<Device>,
    state: bindings::dma_iova_state,
    size: usize,
    dir: DataDirection,
    attrs: Attrs,
}

// SAFETY: The state is plain data and the engine's record, which the C API
// may use from any thread; the device reference may be dropped from any
// thread.
unsafe impl Send for Iova {}

// SAFETY: Through a shared reference only `dma_iova_sync()`, which reads the
// state, is called.
unsafe impl Sync for Iova {}

impl Drop for Iova {
    fn drop(&mut self) {
        // The engine unmaps each run of links with one call and flushes
        // once, holes or not, without looking the IOMMU's page tables up.
        // SAFETY: `dev` is valid and `state` its reservation (type
        // invariant); the device is done with the links, or its driver is
        // unbinding.
        unsafe {
            bindings::dma_iova_destroy(
                self.dev.as_raw(),
                &mut self.state,
                self.size,
                self.dir.as_raw(),
                self.attrs.as_raw(),
            )
        };
    }
}

/// IOVA reserved for a device with `dma_iova_try_alloc()`, and the ranges
/// linked into it.
///
/// It is made for a bound device and goes with the binding: if it is still
/// there when the driver unbinds, everything is unlinked and the IOVA freed
/// then, and every later call fails with `ENXIO`. It must not be dropped
/// from the release of another devres entry of the device (see
/// [`Devres`](crate::devres::Devres)).
///
/// # Examples
///
/// A driver maps a list of pages into one range the device sees, and falls
/// back to per-page mappings when the device is not behind a translating
/// IOMMU, as the test device here is not:
///
/// ```
/// use kernel::{
///     device::{Bound, Device},
///     dma::{iova::Reservation, Attrs, DataDirection, DmaAddress},
///     kunit::Test,
///     page::{Page, PAGE_SIZE},
/// };
///
/// fn map<'a>(dev: &Device<Bound>, pages: &'a [Page]) -> Result<Option<Reservation<'a>>> {
///     let size = pages.len() * PAGE_SIZE;
///     let Some(mut iova) =
///         Reservation::try_alloc(dev, size, 0, DataDirection::ToDevice, Attrs::empty())?
///     else {
///         return Ok(None);
///     };
///     for (i, page) in pages.iter().enumerate() {
///         // SAFETY: The caller drops the reservation before the pages.
///         unsafe { iova.link_page(i * PAGE_SIZE, page) }?;
///     }
///     // One IOTLB sync for all the links.
///     iova.sync_all()?;
///     // The device gets one address for the whole range.
///     let _start: DmaAddress = iova.dma_address(0)?;
///     // Dropping the reservation unmaps every page and frees the IOVA.
///     Ok(Some(iova))
/// }
///
/// # let test = Test::current().unwrap();
/// # let dev = test.device(kernel::c_str!("doc-iova"))?;
/// # // SAFETY: A KUnit device stays bound to its driver until the test ends.
/// # let dev = unsafe { dev.as_bound() };
/// let pages = [Page::alloc_page(GFP_KERNEL)?, Page::alloc_page(GFP_KERNEL)?];
/// // No IOMMU: the caller maps page by page instead.
/// assert!(map(dev, &pages)?.is_none());
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// - `iova` holds, until the driver unbinds, the engine's reservation of
///   `size` bytes (non-zero), at `addr`, made with `dir` and `attrs`.
/// - `granule` is the device's IOMMU granule, a power of two, and `head`
///   the offset of `addr` in its granule.
/// - While `iova` is not revoked, bit `i` of `linked` is set exactly when a
///   link of this reservation maps granule `i` of `[addr - head, addr +
///   size)`.
/// - Linked memory stays allocated until it is unlinked or the reservation
///   is torn down (the contract of the `link_*` functions).
pub struct Reservation<'a> {
    iova: Tied<Iova>,
    addr: DmaAddress,
    size: usize,
    granule: usize,
    head: usize,
    dir: DataDirection,
    attrs: Attrs,
    linked: KVec<u64>,
    _memory: PhantomData<&'a Page>,
}

impl<'a> Reservation<'a> {
    /// Reserves `size` bytes of IOVA for `dev`, for links in direction
    /// `dir` with attributes `attrs`. The first link may start `head` bytes
    /// into a granule (0 for page-aligned memory).
    ///
    /// Returns `Ok(None)` when the two-step API is not available for `dev`
    /// (no translating IOMMU, or no IOVA space left): the driver then maps
    /// with the streaming DMA API.
    pub fn try_alloc(
        dev: &Device<Bound>,
        size: usize,
        head: usize,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Result<Option<Self>> {
        // The C API keeps the top bits of the size for itself.
        if size == 0 || size > isize::MAX as usize {
            return Err(EINVAL);
        }
        // SAFETY: `dev` is a valid device.
        let boundary = unsafe { bindings::dma_get_merge_boundary(dev.as_raw()) };
        if boundary == 0 {
            // No IOMMU translates for `dev`.
            return Ok(None);
        }
        let granule = boundary.checked_add(1).ok_or(EINVAL)?;
        if !granule.is_power_of_two() || head >= granule {
            return Err(EINVAL);
        }
        let granules = size.checked_add(head + granule - 1).ok_or(EOVERFLOW)? / granule;
        let linked = KVec::from_elem(0u64, granules.div_ceil(64), GFP_KERNEL)?;

        let mut state = bindings::dma_iova_state::default();
        // SAFETY: `dev` is a valid device and `state` is ours; the C API only
        // uses the in-granule offset of the physical address.
        if !unsafe { bindings::dma_iova_try_alloc(dev.as_raw(), &mut state, head as u64, size) } {
            return Ok(None);
        }
        let addr = state.addr;
        // INVARIANT: The reservation was just made, with `size` bytes, at
        // offset `head` in its granule; nothing is linked. If it cannot be
        // tied to the binding, dropping `Iova` frees it again.
        let iova = Iova {
            dev: dev.into(),
            state,
            size,
            dir,
            attrs,
        };
        let iova = Tied::new(dev, iova)?;
        Ok(Some(Self {
            iova,
            addr,
            size,
            granule,
            head,
            dir,
            attrs,
            linked,
            _memory: PhantomData,
        }))
    }

    /// Size of the reservation, in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The IOMMU granule: links start and end on it, but for the first and
    /// the last.
    pub fn granule(&self) -> usize {
        self.granule
    }

    /// The device's DMA address of byte `offset` of the reservation.
    ///
    /// Returns `EINVAL` past the reservation and `ENXIO` once the driver has
    /// unbound.
    pub fn dma_address(&self, offset: usize) -> Result<DmaAddress> {
        if offset >= self.size {
            return Err(EINVAL);
        }
        self.iova.get()?;
        Ok(self.addr + offset as u64)
    }

    /// Whether the granule holding byte `offset` of the reservation is linked.
    pub fn is_linked(&self, offset: usize) -> bool {
        offset < self.size
            && !self.is_revoked()
            && self.bit((self.head + offset) >> self.granule.trailing_zeros())
    }

    /// Whether the driver has unbound, which tore the reservation down.
    pub fn is_revoked(&self) -> bool {
        self.iova.is_revoked()
    }

    /// Bytes of memory this reservation uses to track its links: a bit per
    /// granule here and two in the engine's record (besides its header).
    pub fn tracking_bytes(&self) -> usize {
        let granules = (self.head + self.size).div_ceil(self.granule);
        (self.linked.len() + granules.div_ceil(32)) * core::mem::size_of::<u64>()
    }

    /// Links `page` whole at `offset` of the reservation.
    ///
    /// # Safety
    ///
    /// The reservation is torn down (dropped or destroyed, not leaked with
    /// [`core::mem::forget`]) before `page` is freed: the borrow alone does
    /// not guarantee that the device loses the page in time.
    pub unsafe fn link_page(&mut self, offset: usize, page: &'a Page) -> Result {
        // SAFETY: By the function's contract.
        unsafe { self.link_page_range(offset, page, 0, crate::page::PAGE_SIZE) }
    }

    /// Links `len` bytes of `page` from `page_offset` at `offset` of the
    /// reservation.
    ///
    /// # Safety
    ///
    /// As for [`Reservation::link_page`].
    pub unsafe fn link_page_range(
        &mut self,
        offset: usize,
        page: &'a Page,
        page_offset: usize,
        len: usize,
    ) -> Result {
        let end = page_offset.checked_add(len).ok_or(EOVERFLOW)?;
        if end > crate::page::PAGE_SIZE {
            return Err(EINVAL);
        }
        // SAFETY: `page` is a valid page.
        let phys = unsafe { bindings::page_to_phys(page.as_ptr()) };
        // SAFETY: The range is within `page`, which the caller keeps until
        // the reservation is torn down.
        unsafe { self.link_phys(offset, phys + page_offset as u64, len) }
    }

    /// Links `pages` whole from `offset` of the reservation, one link per run
    /// of physically contiguous pages, so that the IOMMU can map each run
    /// with the largest page sizes it has.
    ///
    /// On failure nothing of `pages` stays linked: the runs linked before
    /// the failing one are unlinked again.
    ///
    /// # Safety
    ///
    /// As for [`Reservation::link_page`], for every page.
    pub unsafe fn link_pages(&mut self, offset: usize, pages: &'a [Page]) -> Result {
        let phys = pages.iter().map(|page| {
            // SAFETY: Each page is valid, borrowed for `'a`, and kept by the
            // caller until the reservation is torn down.
            unsafe { bindings::page_to_phys(page.as_ptr()) }
        });
        // SAFETY: By the function's contract.
        unsafe { self.link_phys_pages(offset, phys) }
    }

    /// Links the pages at physical addresses `pages` whole, from `offset` of
    /// the reservation, one link per run of contiguous pages.
    ///
    /// On failure nothing of `pages` stays linked, as for
    /// [`Reservation::link_pages`].
    ///
    /// # Safety
    ///
    /// As for [`Reservation::link_phys`], for every page.
    pub unsafe fn link_phys_pages(
        &mut self,
        offset: usize,
        pages: impl IntoIterator<Item = u64>,
    ) -> Result {
        const PAGE: u64 = crate::page::PAGE_SIZE as u64;
        // `[offset, at)` is what the runs linked so far cover.
        let mut at = offset;
        let shape = self.shape();
        let ret = 'link: {
            // One use of the engine's state for all the runs.
            let mut iova = match self.iova.get_mut() {
                Ok(iova) => iova,
                Err(e) => break 'link Err(e),
            };
            // The run being gathered: its first address and length.
            let mut run: Option<(u64, usize)> = None;
            for phys in pages {
                match &mut run {
                    Some((start, len)) if *start + *len as u64 == phys => *len += PAGE as usize,
                    _ => {
                        if let Some((start, len)) = run.replace((phys, PAGE as usize)) {
                            // SAFETY: By the function's contract.
                            let ret =
                                unsafe { shape.link(&mut iova, &mut self.linked, at, start, len) };
                            if let Err(e) = ret {
                                break 'link Err(e);
                            }
                            // Linked, so inside the reservation: no overflow.
                            at += len;
                        }
                    }
                }
            }
            match run {
                // SAFETY: By the function's contract.
                Some((start, len)) => unsafe {
                    shape.link(&mut iova, &mut self.linked, at, start, len)
                },
                None => Ok(()),
            }
        };
        if ret.is_err() && at > offset {
            // This call linked all of `[offset, at)`: it was free before
            // (`link_phys()` refuses linked granules).
            if let Ok((first, last)) = self.granules(offset, at - offset) {
                // Unbound meanwhile: the unbind unlinked them.
                let _ = self.unlink_granules(first, last + 1);
            }
        }
        ret
    }

    /// Links `len` bytes of physical memory at `phys` at `offset` of the
    /// reservation.
    ///
    /// # Safety
    ///
    /// `[phys, phys + len)` is memory the device may access as the
    /// reservation's direction says, until it is unlinked or the reservation
    /// is torn down.
    pub unsafe fn link_phys(&mut self, offset: usize, phys: u64, len: usize) -> Result {
        let shape = self.shape();
        let mut iova = self.iova.get_mut()?;
        // SAFETY: By the function's contract.
        unsafe { shape.link(&mut iova, &mut self.linked, offset, phys, len) }
    }

    /// What a link is checked against, apart from the reservation.
    fn shape(&self) -> Shape {
        Shape {
            size: self.size,
            granule: self.granule,
            head: self.head,
            dir: self.dir,
            attrs: self.attrs,
        }
    }

    /// Makes the links of `[offset, offset + len)` visible to the device:
    /// one IOTLB sync for any number of links.
    pub fn sync(&self, offset: usize, len: usize) -> Result {
        self.granules(offset, len)?;
        let iova = self.iova.get()?;
        let state = core::ptr::from_ref(&iova.state).cast_mut();
        // SAFETY: `dev` is valid and `state` its reservation; sync only reads
        // the state.
        to_result(unsafe { bindings::dma_iova_sync(iova.dev.as_raw(), state, offset, len) })
    }

    /// Makes every link visible to the device.
    pub fn sync_all(&self) -> Result {
        self.sync(0, self.size)
    }

    /// Unlinks the links in `[offset, offset + len)` and flushes the IOMMU;
    /// the IOVA stays reserved.
    ///
    /// The range may cut a link (one made by [`Reservation::link_pages`],
    /// say): the engine then unmaps the link whole and maps its parts
    /// outside the range again, so the device must not be using the link
    /// meanwhile.
    pub fn unlink(&mut self, offset: usize, len: usize) -> Result {
        let (first, last) = self.granules(offset, len)?;
        let g = self.granule;
        let end = offset + len;
        let m = g - 1;
        if ((self.head + offset) & m != 0 && offset != 0)
            || ((self.head + end) & m != 0 && end != self.size)
        {
            return Err(EINVAL);
        }
        self.unlink_granules(first, last + 1)
    }

    /// Unlinks everything and releases the IOVA.
    pub fn destroy(self) {
        drop(self);
    }

    /// Checks `[offset, offset + len)` and returns its first and last
    /// granule.
    fn granules(&self, offset: usize, len: usize) -> Result<(usize, usize)> {
        self.shape().granules(offset, len)
    }

    /// Unlinks each run of linked granules in `first..end`, one call each.
    ///
    /// Returns `ENXIO` once the driver has unbound, which tore everything
    /// down.
    fn unlink_granules(&mut self, first: usize, end: usize) -> Result {
        let (dir, attrs) = (self.dir.as_raw(), self.attrs.as_raw());
        let (granule, head, size) = (self.granule, self.head, self.size);
        let mut iova = self.iova.get_mut()?;
        let dev = iova.dev.as_raw();
        let linked = &mut self.linked;
        let mut i = first;
        while i < end {
            if !Self::bit_of(linked, i) {
                i += 1;
                continue;
            }
            let run = i;
            while i < end && Self::bit_of(linked, i) {
                linked[i / 64] &= !(1 << (i % 64));
                i += 1;
            }
            let (offset, len) = Self::span(granule, head, size, run, i);
            // SAFETY: `dev` is valid and `state` its reservation; the run is
            // linked.
            unsafe { bindings::dma_iova_unlink(dev, &mut iova.state, offset, len, dir, attrs) };
        }
        Ok(())
    }

    /// The bytes of the reservation that granules `first..end` cover.
    fn span(granule: usize, head: usize, size: usize, first: usize, end: usize) -> (usize, usize) {
        let start = (first * granule).saturating_sub(head);
        let stop = (end * granule - head).min(size);
        (start, stop - start)
    }

    /// The bits of word `w` for granules `first..=last`.
    #[inline]
    fn mask(w: usize, first: usize, last: usize) -> u64 {
        let at = w.wrapping_mul(64);
        let lo = first.max(at).wrapping_sub(at) as u32;
        let hi = last.min(at.wrapping_add(63)).wrapping_sub(at) as u32;
        (u64::MAX >> (63 - hi)) & (u64::MAX << lo)
    }

    /// Whether any of granules `first..=last` is linked.
    #[inline]
    fn any_linked(linked: &[u64], first: usize, last: usize) -> bool {
        (first / 64..=last / 64).any(|w| linked[w] & Self::mask(w, first, last) != 0)
    }

    fn bit(&self, i: usize) -> bool {
        Self::bit_of(&self.linked, i)
    }

    fn bit_of(linked: &[u64], i: usize) -> bool {
        linked[i / 64] & (1 << (i % 64)) != 0
    }
}

/// The layout of a reservation and how it links: what checking and making a
/// link needs besides the engine's state and the bits of what is linked, so
/// that a batch of links borrows those once.
#[derive(Clone, Copy)]
struct Shape {
    size: usize,
    granule: usize,
    head: usize,
    dir: DataDirection,
    attrs: Attrs,
}

impl Shape {
    /// Checks `[offset, offset + len)` and returns its first and last
    /// granule.
    fn granules(&self, offset: usize, len: usize) -> Result<(usize, usize)> {
        let end = offset.checked_add(len).ok_or(EOVERFLOW)?;
        if len == 0 || end > self.size {
            return Err(EINVAL);
        }
        Ok((
            (self.head + offset) >> self.granule.trailing_zeros(),
            (self.head + end - 1) >> self.granule.trailing_zeros(),
        ))
    }

    /// Links `len` bytes at `phys` at `offset` of the reservation `iova`,
    /// whose linked granules `linked` marks.
    ///
    /// # Safety
    ///
    /// As for [`Reservation::link_phys`].
    unsafe fn link(
        &self,
        iova: &mut Iova,
        linked: &mut [u64],
        offset: usize,
        phys: u64,
        len: usize,
    ) -> Result {
        let (first, last) = self.granules(offset, len)?;
        phys.checked_add(len as u64).ok_or(EOVERFLOW)?;
        // Only the first link may start inside a granule, at the reserved
        // offset; the memory must sit at the same offset in its granule.
        let at = self.head + offset;
        // A power of two: masks, not divisions.
        let m = self.granule - 1;
        if phys as usize & m != at & m || (at & m != 0 && offset != 0) {
            return Err(EINVAL);
        }
        // Only the last link may end inside a granule: teardown works on
        // whole granules.
        if (at + len) & m != 0 && offset + len != self.size {
            return Err(EINVAL);
        }
        if Reservation::any_linked(linked, first, last) {
            return Err(EBUSY);
        }
        // SAFETY: `dev` is valid and `state` is its reservation (type
        // invariants of `Iova`); the range is inside it and unlinked, and
        // the caller lets the device access the memory. The engine's calls
        // but destroy never sleep: they may run in the RCU read-side
        // critical section of a use of a `Tied`.
        to_result(unsafe {
            bindings::dma_iova_link(
                iova.dev.as_raw(),
                &mut iova.state,
                phys,
                offset,
                len,
                self.dir.as_raw(),
                self.attrs.as_raw(),
            )
        })?;
        // INVARIANT: The link maps granules `first..=last`.
        let words = first / 64..=last / 64;
        for (w, word) in words.clone().zip(&mut linked[words]) {
            *word |= Reservation::mask(w, first, last);
        }
        Ok(())
    }
}

/// A reservation that lives in [`Reservation::scope`]: it cannot leave the
/// scope, so it is torn down before the memory its links borrow can be
/// freed, and linking borrowed pages is safe.
///
/// # Invariants
///
/// `inner` is torn down when the scope that created it returns; `'s` is
/// unique to that scope, so no `Scoped` of another scope can take its place.
pub struct Scoped<'s, 'a> {
    inner: Reservation<'a>,
    _scope: PhantomData<fn(&'s ()) -> &'s ()>,
}

impl<'a> Reservation<'a> {
    /// Reserves IOVA as [`Reservation::try_alloc`] does and runs `f` with
    /// it; everything `f` linked is unlinked and the IOVA freed when `f`
    /// returns. Returns `Ok(None)`, without calling `f`, when the two-step
    /// API is not available for `dev`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{
    ///     dma::{iova::Reservation, Attrs, DataDirection},
    ///     kunit::Test,
    ///     page::{Page, PAGE_SIZE},
    /// };
    ///
    /// # let test = Test::current().unwrap();
    /// # let dev = test.device(kernel::c_str!("doc-iova-scope"))?;
    /// # // SAFETY: A KUnit device stays bound to its driver until the test ends.
    /// # let dev = unsafe { dev.as_bound() };
    /// let pages = [Page::alloc_page(GFP_KERNEL)?, Page::alloc_page(GFP_KERNEL)?];
    /// let done = Reservation::scope(
    ///     dev,
    ///     2 * PAGE_SIZE,
    ///     0,
    ///     DataDirection::ToDevice,
    ///     Attrs::empty(),
    ///     |iova| -> Result {
    ///         for (i, page) in pages.iter().enumerate() {
    ///             iova.link_page(i * PAGE_SIZE, page)?;
    ///         }
    ///         iova.sync_all()?;
    ///         // Program the device with `iova.dma_address(0)?` and wait.
    ///         Ok(())
    ///     },
    /// )?;
    /// // The test device has no IOMMU: the caller maps page by page instead.
    /// assert!(done.is_none());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn scope<R>(
        dev: &Device<Bound>,
        size: usize,
        head: usize,
        dir: DataDirection,
        attrs: Attrs,
        f: impl for<'s> FnOnce(&mut Scoped<'s, 'a>) -> R,
    ) -> Result<Option<R>> {
        let Some(inner) = Self::try_alloc(dev, size, head, dir, attrs)? else {
            return Ok(None);
        };
        // INVARIANT: The reservation is dropped at the end of this function.
        let mut scoped = Scoped {
            inner,
            _scope: PhantomData,
        };
        Ok(Some(f(&mut scoped)))
    }
}

impl<'a> Scoped<'_, 'a> {
    /// Links `page` whole at `offset`: see [`Reservation::link_page`].
    pub fn link_page(&mut self, offset: usize, page: &'a Page) -> Result {
        // SAFETY: `page` is borrowed for `'a`, beyond the scope, and the
        // reservation is torn down when the scope returns (type invariant).
        unsafe { self.inner.link_page(offset, page) }
    }

    /// Links part of `page`: see [`Reservation::link_page_range`].
    pub fn link_page_range(
        &mut self,
        offset: usize,
        page: &'a Page,
        page_offset: usize,
        len: usize,
    ) -> Result {
        // SAFETY: As for `link_page`.
        unsafe { self.inner.link_page_range(offset, page, page_offset, len) }
    }

    /// Links pages, a link per contiguous run: see
    /// [`Reservation::link_pages`].
    pub fn link_pages(&mut self, offset: usize, pages: &'a [Page]) -> Result {
        // SAFETY: As for `link_page`.
        unsafe { self.inner.link_pages(offset, pages) }
    }

    /// Unlinks a range: see [`Reservation::unlink`].
    pub fn unlink(&mut self, offset: usize, len: usize) -> Result {
        self.inner.unlink(offset, len)
    }
}

impl<'a> core::ops::Deref for Scoped<'_, 'a> {
    type Target = Reservation<'a>;

    /// Read access, and `sync`: a shared reference cannot move the
    /// reservation out of its scope.
    fn deref(&self) -> &Reservation<'a> {
        &self.inner
    }
}
