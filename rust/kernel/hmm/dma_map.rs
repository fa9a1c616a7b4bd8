// SPDX-License-Identifier: GPL-2.0

//! DMA mappings of the pages an HMM range mirrors.
//!
//! A [`DmaMap`] owns the PFN array of a mirrored range, one word per page,
//! and maps entries for one device as the device needs them. Behind a
//! translating IOMMU it reserves one IOVA range up front and links entry
//! `i` at `i * PAGE_SIZE` in it; otherwise it maps each entry with
//! `dma_map_page_attrs()` and keeps the address only when `dma_need_unmap()`
//! says unmapping needs it.
//!
//! Which entries are mapped is kept in the entries' own words
//! (`HMM_PFN_DMA_MAPPED`), which `hmm_range_fault()` keeps from input to
//! output: on the IOVA path a map costs the PFN word per page and nothing
//! more. Tearing the map down unmaps exactly the mapped runs, however many
//! holes lie between them, with one IOTLB flush for all of them
//! (`dma_iova_destroy()`, which keeps its own record of the links): its
//! IOMMU work follows the number of runs, not of pages. A run of entries
//! whose pages are contiguous is linked with one call, which the IOMMU maps
//! with its largest page sizes.
//!
//! C header: [`include/linux/hmm.h`](srctree/include/linux/hmm.h)

use super::pfn::{Pfn, DMA_MAPPED, ERROR, INOUT_FLAGS, P2PDMA, P2PDMA_BUS, VALID, WRITE};
use crate::{
    alloc::{flags::GFP_KERNEL, KVVec},
    bindings,
    device::{Bound, Device},
    dma::{
        tied::{Tied, TiedMut},
        DataDirection, DmaAddress,
    },
    error::{code::*, Result},
    ffi::c_ulong,
    page::PAGE_SIZE,
    pci::p2pdma::MapType,
    types::ARef,
};

/// The attributes of every mapping: the mirror's pages are shared with the
/// process all along, so a mapping that would need swiotlb or CPU cache
/// maintenance must fail (the streaming calls of this kernel ignore it;
/// [`DmaMap::new`] refuses the devices that would need either).
const LINK_ATTRS: c_ulong = bindings::DMA_ATTR_REQUIRE_COHERENT as c_ulong;

/// And of a peer's memory reached through the host bridge: MMIO, uncached,
/// which the streaming calls of this kernel know as no cache maintenance.
const PEER_ATTRS: c_ulong = (bindings::DMA_ATTR_MMIO | bindings::DMA_ATTR_SKIP_CPU_SYNC) as c_ulong;

/// The PFN words of a map, in one allocation after a word that holds their
/// count, so that a C `struct hmm_dma_map`, which keeps only a pointer to
/// the first entry, can be taken back (see [`hmm_dma`]).
///
/// # Invariants
///
/// `0.len() == 0[0] + 1 == 0.capacity()`.
struct Words(KVVec<c_ulong>);

impl Words {
    /// `n` zeroed words.
    fn new(n: usize) -> Result<Self> {
        let mut words = KVVec::from_elem(0, n.checked_add(1).ok_or(EOVERFLOW)?, GFP_KERNEL)?;
        words[0] = n;
        // INVARIANT: `from_elem()` allocates exactly `n + 1`.
        Ok(Self(words))
    }

    /// Gives the allocation up; returns a pointer to the first word.
    fn into_raw(self) -> *mut c_ulong {
        let (ptr, _, _) = self.0.into_raw_parts();
        // The count word is the first of the allocation.
        ptr.wrapping_add(1)
    }

    /// Takes back what [`Words::into_raw`] gave up.
    ///
    /// # Safety
    ///
    /// `first` came from [`Words::into_raw`] and is not used again.
    unsafe fn from_raw(first: *mut c_ulong) -> Self {
        // SAFETY: By the function's contract the count word precedes
        // `first` in an allocation of `n + 1` words.
        unsafe {
            let base = first.sub(1);
            let len = *base + 1;
            Self(KVVec::from_raw_parts(base, len, len))
        }
    }
}

impl core::ops::Deref for Words {
    type Target = [c_ulong];

    fn deref(&self) -> &[c_ulong] {
        &self.0[1..]
    }
}

impl core::ops::DerefMut for Words {
    fn deref_mut(&mut self) -> &mut [c_ulong] {
        &mut self.0[1..]
    }
}

mod hmm_dma;

/// How a device reaches the entries of a map.
enum Path {
    /// One IOVA range; entry `i` is linked at `i * PAGE_SIZE`.
    Iova(bindings::dma_iova_state),
    /// Entry by entry, with the streaming DMA API; the addresses, when
    /// unmapping needs them.
    Streaming(Option<KVVec<DmaAddress>>),
}

/// The device side of a map: how its entries are mapped, and what tearing
/// them down needs. Dropping it unmaps whatever is still mapped.
///
/// # Invariants
///
/// - On the IOVA path, the state is a reservation of `dev` for `entries`
///   pages, whose links are linked entries.
/// - On the streaming path with a list, entry `i` is mapped for `dev` in
///   `dir` at `list[i]` exactly when that is not [`UNMAPPED`].
struct Slots {
    dev: ARef<Device>,
    path: Path,
    entries: usize,
    dir: DataDirection,
}

/// What the streaming path's list holds for an entry that is not mapped
/// (`DMA_MAPPING_ERROR`).
const UNMAPPED: DmaAddress = DmaAddress::MAX;

// SAFETY: The state is plain data and the engine's record, which the C API
// may use from any thread; the device reference may be dropped from any
// thread.
unsafe impl Send for Slots {}

impl Drop for Slots {
    fn drop(&mut self) {
        let dev = self.dev.as_raw();
        let dir = self.dir.as_raw();
        match &mut self.path {
            // SAFETY: `dev` and `state` are valid; the device is done with
            // the entries, or its driver is unbinding. The links are all
            // coherent (`LINK_ATTRS`): no cache maintenance to skip.
            Path::Iova(state) => unsafe {
                bindings::dma_iova_destroy(dev, state, self.entries * PAGE_SIZE, dir, 0)
            },
            Path::Streaming(Some(list)) => {
                for &addr in list.iter().filter(|&&addr| addr != UNMAPPED) {
                    // SAFETY: By the type invariant the entry is mapped at
                    // `addr`.
                    unsafe { bindings::dma_unmap_page_attrs(dev, addr, PAGE_SIZE, dir, 0) };
                }
            }
            // Unmapping is a no-op for this device.
            Path::Streaming(None) => (),
        }
    }
}

/// Where a map keeps its [`Slots`].
enum Dma {
    /// Tied to the binding of the device's driver: the Rust face.
    Tied(Tied<Slots>),
    /// The C face's, which keeps upstream's rule: the driver frees the map
    /// before it unbinds.
    Plain(Slots),
}

/// A use of a map's [`Slots`].
enum SlotsMut<'a> {
    Tied(TiedMut<'a, Slots>),
    Plain(&'a mut Slots),
}

impl core::ops::Deref for SlotsMut<'_> {
    type Target = Slots;

    fn deref(&self) -> &Slots {
        match self {
            Self::Tied(slots) => slots,
            Self::Plain(slots) => slots,
        }
    }
}

impl core::ops::DerefMut for SlotsMut<'_> {
    fn deref_mut(&mut self) -> &mut Slots {
        match self {
            Self::Tied(slots) => slots,
            Self::Plain(slots) => slots,
        }
    }
}

impl Dma {
    /// The slots; `ENXIO` once the driver has unbound. A use of tied slots
    /// holds an RCU read-side critical section: mapping and unmapping
    /// never sleep.
    fn get_mut(&mut self) -> Result<SlotsMut<'_>> {
        match self {
            Self::Tied(tied) => tied.get_mut().map(SlotsMut::Tied),
            Self::Plain(slots) => Ok(SlotsMut::Plain(slots)),
        }
    }

    fn is_revoked(&self) -> bool {
        match self {
            Self::Tied(tied) => tied.is_revoked(),
            Self::Plain(_) => false,
        }
    }
}

/// The DMA mappings of a mirrored range's pages for one device.
///
/// A map made by [`DmaMap::new`] goes with the binding of the device's
/// driver: if it is still there when the driver unbinds, the unbind unmaps
/// every entry, in the IOMMU domain they were mapped in, and from then on
/// mapping fails with `ENXIO` (unmapping only clears the entries).
///
/// # Invariants
///
/// - Until the slots are revoked, an entry has `HMM_PFN_DMA_MAPPED` exactly
///   when it is mapped for the device with `dir`: on the IOVA path linked
///   at its offset in the reservation; on the streaming path mapped with
///   `dma_map_page_attrs()`, at the address the list keeps when there is
///   one (otherwise `dma_need_unmap()` was false).
/// - Nothing changes an entry's `HMM_PFN_INOUT_FLAGS` but this type.
/// - `iova` is the reservation's address, on the IOVA path.
pub struct DmaMap {
    pfns: Words,
    dir: DataDirection,
    dma: Dma,
    iova: Option<DmaAddress>,
    /// Whether an entry must be writable when the device writes: always
    /// but for the C helpers, which map bidirectionally as upstream does.
    check_write: bool,
}

/// The P2PDMA answers of one call.
///
/// Device memory is hot-plugged by whole subsections
/// (`PAGES_PER_SUBSECTION`, 2 MiB): a subsection is RAM or device memory of
/// one pagemap throughout. So once a page is found to be plain memory, the
/// rest of its subsection is too, without asking again.
#[cfg(CONFIG_PCI_P2PDMA)]
struct P2p {
    state: crate::pci::p2pdma::State,
    /// The subsection of the last page found to be plain memory.
    plain: Option<usize>,
}

#[cfg(CONFIG_PCI_P2PDMA)]
impl P2p {
    const SUBSECTION: u32 = bindings::PFN_SUBSECTION_SHIFT;

    fn new() -> Self {
        Self {
            state: crate::pci::p2pdma::State::new(),
            plain: None,
        }
    }

    /// Starts from a C caller's state.
    fn from_raw(state: bindings::pci_p2pdma_map_state) -> Self {
        Self {
            state: crate::pci::p2pdma::State::from_raw(state),
            plain: None,
        }
    }

    /// The state, for the C caller to keep.
    fn as_raw(&self) -> bindings::pci_p2pdma_map_state {
        self.state.as_raw()
    }

    /// How `dev` reaches the page of `pfn`.
    ///
    /// # Safety
    ///
    /// The page of `pfn` stays allocated during the call.
    #[inline]
    unsafe fn reach(&mut self, dev: &Device, pfn: usize) -> MapType {
        if self.plain == Some(pfn >> Self::SUBSECTION) {
            return MapType::None;
        }
        // SAFETY: By the function's contract; the state is `dev`'s.
        let map = unsafe { self.state.map_type(dev, pfn) };
        if map == MapType::None {
            self.plain = Some(pfn >> Self::SUBSECTION);
        }
        map
    }
}

/// Without P2PDMA no page is another device's memory.
#[cfg(not(CONFIG_PCI_P2PDMA))]
struct P2p;

#[cfg(not(CONFIG_PCI_P2PDMA))]
impl P2p {
    fn new() -> Self {
        Self
    }

    fn from_raw(_state: bindings::pci_p2pdma_map_state) -> Self {
        Self
    }

    fn as_raw(&self) -> bindings::pci_p2pdma_map_state {
        bindings::pci_p2pdma_map_state::default()
    }

    /// # Safety
    ///
    /// None; as for the P2PDMA version.
    unsafe fn reach(&mut self, _dev: &Device, _pfn: usize) -> MapType {
        MapType::None
    }
}

impl Slots {
    /// The slots of `entries` pages for `dev`, in direction `dir`, with
    /// nothing mapped yet.
    fn new(dev: &Device, entries: usize, dir: DataDirection) -> Result<Self> {
        if entries == 0 {
            return Err(EINVAL);
        }
        let size = entries.checked_mul(PAGE_SIZE).ok_or(EOVERFLOW)?;
        let mut state = bindings::dma_iova_state::default();
        let raw = dev.as_raw();
        // SAFETY: `dev` is valid.
        let (boundary, limited, coherent) = unsafe {
            (
                bindings::dma_get_merge_boundary(raw),
                bindings::dma_addressing_limited(raw),
                bindings::dev_is_dma_coherent(raw),
            )
        };
        // An IOMMU granule larger than a page would expose the neighbours
        // of each entry's page.
        let small_granule = boundary < PAGE_SIZE;
        let reserved = small_granule && {
            // SAFETY: `dev` is valid; `state` is a zeroed state of ours.
            unsafe { bindings::dma_iova_try_alloc(raw, &mut state, 0, size) }
        };
        let path = if reserved {
            Path::Iova(state)
        } else if limited || !coherent {
            // The device would see bounce buffers, or need syncs that
            // nothing does: a snapshot of the pages, not the pages.
            return Err(EOPNOTSUPP);
        } else if crate::dma::need_unmap(dev) {
            Path::Streaming(Some(KVVec::from_elem(UNMAPPED, entries, GFP_KERNEL)?))
        } else {
            Path::Streaming(None)
        };
        // INVARIANT: Nothing is linked, and the list says so.
        Ok(Self {
            dev: dev.into(),
            path,
            entries,
            dir,
        })
    }

    /// Links entries `start..start + n`, plain pages of contiguous memory
    /// from `phys`, with one link, without syncing the IOTLB.
    ///
    /// # Safety
    ///
    /// The pages stay allocated until they are unlinked; the entries are
    /// not linked.
    #[inline(always)]
    unsafe fn link_run(&mut self, start: usize, n: usize, phys: u64) -> Result {
        let Path::Iova(state) = &mut self.path else {
            return Err(EINVAL);
        };
        // SAFETY: `dev` and `state` are valid; the pages stay allocated
        // while linked, by the function's contract, and their offsets are
        // free.
        let ret = unsafe {
            bindings::dma_iova_link(
                self.dev.as_raw(),
                state,
                phys,
                start * PAGE_SIZE,
                n * PAGE_SIZE,
                self.dir.as_raw(),
                LINK_ATTRS,
            )
        };
        crate::error::to_result(ret)
    }

    /// Makes the links of entries `lo..=hi` visible to the device, on the
    /// IOVA path.
    fn sync(&mut self, lo: usize, hi: usize) -> Result {
        let Path::Iova(state) = &mut self.path else {
            return Ok(());
        };
        // SAFETY: `dev` and `state` are valid; the entries are in the
        // reservation.
        let ret = unsafe {
            bindings::dma_iova_sync(
                self.dev.as_raw(),
                state,
                lo * PAGE_SIZE,
                (hi - lo + 1) * PAGE_SIZE,
            )
        };
        crate::error::to_result(ret)
    }

    /// Maps entry `idx`, of word `word`, without syncing the IOTLB; returns
    /// its address, whether it was linked now (and so needs a sync), and
    /// the flags to add to its word.
    ///
    /// # Safety
    ///
    /// The entry's page stays allocated until it is unmapped; the entry is
    /// valid and not mapped.
    unsafe fn map_one(
        &mut self,
        idx: usize,
        pfn: Pfn,
        p2p: &mut P2p,
    ) -> Result<(DmaAddress, bool, c_ulong)> {
        // SAFETY: By the function's contract the page stays allocated.
        let (attrs, flags) = match unsafe { p2p.reach(&self.dev, pfn.pfn()) } {
            MapType::None => (LINK_ATTRS, DMA_MAPPED),
            MapType::ThruHostBridge => (LINK_ATTRS | PEER_ATTRS, DMA_MAPPED | P2PDMA),
            // Reached by bus address: nothing to map.
            MapType::BusAddr(addr) => return Ok((addr, false, DMA_MAPPED | P2PDMA_BUS)),
            MapType::NotSupported => return Err(EREMOTEIO),
        };
        let dev = self.dev.as_raw();
        let dir = self.dir.as_raw();
        match &mut self.path {
            Path::Iova(state) => {
                let offset = idx * PAGE_SIZE;
                // SAFETY: `dev` and `state` are valid; the entry's page stays
                // allocated while linked, by the function's contract, and its
                // offset is free (the entry is not mapped).
                let ret = unsafe {
                    bindings::dma_iova_link(dev, state, pfn.phys(), offset, PAGE_SIZE, dir, attrs)
                };
                crate::error::to_result(ret)?;
                Ok((state.addr + offset as u64, true, flags))
            }
            Path::Streaming(list) => {
                // SAFETY: The page is valid while mapped, by the function's
                // contract, and `dev` is valid.
                let addr = unsafe {
                    let page = bindings::pfn_to_page(pfn.pfn() as c_ulong);
                    bindings::dma_map_page_attrs(dev, page, 0, PAGE_SIZE, dir, attrs)
                };
                // SAFETY: `dev` is valid.
                if unsafe { bindings::dma_mapping_error(dev, addr) } != 0 {
                    return Err(ENOMEM);
                }
                match list {
                    // INVARIANT: The list keeps where the entry is mapped.
                    Some(list) => list[idx] = addr,
                    // The mapping bounced after all (`dma_need_unmap()`
                    // changed): the device would see a copy of the page.
                    None if crate::dma::need_unmap(&self.dev) => {
                        // SAFETY: Mapped just above.
                        unsafe { bindings::dma_unmap_page_attrs(dev, addr, PAGE_SIZE, dir, attrs) };
                        return Err(EOPNOTSUPP);
                    }
                    // A no-op unmap: mapping it again is fine.
                    None => (),
                }
                Ok((addr, false, flags))
            }
        }
    }

    /// Unmaps entry `idx`, of word `word`, which is mapped.
    fn unmap_one(&mut self, idx: usize, word: c_ulong) {
        let dev = self.dev.as_raw();
        let dir = self.dir.as_raw();
        let attrs = if word & P2PDMA != 0 {
            LINK_ATTRS | PEER_ATTRS
        } else {
            LINK_ATTRS
        };
        match &mut self.path {
            // Reached by bus address: nothing was mapped.
            _ if word & P2PDMA_BUS != 0 => (),
            // SAFETY: The entry is linked at its offset, and the device is
            // done with it.
            Path::Iova(state) => unsafe {
                bindings::dma_iova_unlink(dev, state, idx * PAGE_SIZE, PAGE_SIZE, dir, attrs)
            },
            Path::Streaming(Some(list)) => {
                // SAFETY: By the type invariant the entry is mapped at this
                // address.
                unsafe { bindings::dma_unmap_page_attrs(dev, list[idx], PAGE_SIZE, dir, attrs) };
                // INVARIANT: The entry is no longer mapped.
                list[idx] = UNMAPPED;
            }
            Path::Streaming(None) => (),
        }
    }

    /// Unlinks entries `start..stop`, linked plainly, with one call.
    fn unlink_run(&mut self, start: usize, stop: usize) {
        if let Path::Iova(state) = &mut self.path {
            // SAFETY: The entries are linked at their offsets, each whole;
            // the device is done with them.
            unsafe {
                bindings::dma_iova_unlink(
                    self.dev.as_raw(),
                    state,
                    start * PAGE_SIZE,
                    (stop - start) * PAGE_SIZE,
                    self.dir.as_raw(),
                    LINK_ATTRS,
                )
            };
        }
    }
}

impl DmaMap {
    /// A map of `entries` pages for `dev`, in direction `dir`, with nothing
    /// mapped yet; it goes with the binding of `dev`'s driver.
    ///
    /// Returns `EINVAL` for no entries, `EOVERFLOW` when their size does
    /// not fit in an address, and `EOPNOTSUPP` for a device that would see
    /// bounce buffers or need CPU cache maintenance.
    pub fn new(dev: &Device<Bound>, entries: usize, dir: DataDirection) -> Result<Self> {
        let slots = Slots::new(dev, entries, dir)?;
        let pfns = Words::new(entries)?;
        let iova = match &slots.path {
            Path::Iova(state) => Some(state.addr),
            Path::Streaming(_) => None,
        };
        // INVARIANT: No entry is mapped.
        Ok(Self {
            pfns,
            dir,
            dma: Dma::Tied(Tied::new(dev, slots)?),
            iova,
            check_write: true,
        })
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.pfns.len()
    }

    /// Whether the map has no entries (never: [`DmaMap::new`] refuses).
    pub fn is_empty(&self) -> bool {
        self.pfns.is_empty()
    }

    /// Whether entries are linked into one IOVA range.
    pub fn uses_iova(&self) -> bool {
        self.iova.is_some()
    }

    /// Whether the driver has unbound, which unmapped every entry.
    pub fn is_revoked(&self) -> bool {
        self.dma.is_revoked()
    }

    /// Entry `idx`, if there is one.
    pub fn pfn(&self, idx: usize) -> Option<Pfn> {
        self.pfns.get(idx).map(|&word| Pfn::from_raw(word))
    }

    /// Stores what `hmm_range_fault()` would for entry `idx`: its page and
    /// access flags, keeping the entry's DMA state.
    ///
    /// Returns `EINVAL` for an entry out of range, and `EBUSY` when the
    /// entry is mapped and the new value has another page, or none, or
    /// loses write access: unmap it first.
    pub fn set_pfn(&mut self, idx: usize, pfn: Pfn) -> Result {
        let word = self.pfns.get_mut(idx).ok_or(EINVAL)?;
        let old = Pfn::from_raw(*word);
        if old.is_dma_mapped()
            && (!pfn.is_valid()
                || pfn.pfn() != old.pfn()
                || (old.is_writable() && !pfn.is_writable()))
        {
            return Err(EBUSY);
        }
        // INVARIANT: The DMA state is kept, and a mapped entry keeps its
        // page.
        *word = (*word & INOUT_FLAGS) | (pfn.as_raw() & !INOUT_FLAGS);
        Ok(())
    }

    /// The IOVA range of the entries, on the IOVA path, until the driver
    /// unbinds.
    pub fn iova_range(&self) -> Option<(DmaAddress, usize)> {
        self.iova
            .filter(|_| !self.is_revoked())
            .map(|addr| (addr, self.len() * PAGE_SIZE))
    }

    /// Maps entry `idx` for the device, unless it is mapped already, and
    /// returns its DMA address.
    ///
    /// On the IOVA path the entry is linked and synced on its own (one
    /// IOTLB sync); [`DmaMap::map_range`] syncs many at once.
    ///
    /// A page of another PCI device's memory (P2PDMA) is reached as the PCI
    /// core says: at its bus address, without a mapping, when the devices
    /// share a switch; mapped as device memory (no CPU cache maintenance)
    /// through the host bridge; or not at all (`EREMOTEIO`).
    ///
    /// Returns `EINVAL` for an entry out of range or without a valid page,
    /// `EFAULT` for an entry in error, `ENXIO` once the driver has unbound,
    /// and the mapping's error otherwise.
    ///
    /// # Safety
    ///
    /// The page of the entry must stay allocated until the entry is
    /// unmapped ([`DmaMap::unmap_pfn`] or the map's drop): for a mirror,
    /// the entry comes from a fault whose sequence was checked under the
    /// lock that the mirror's invalidation takes to unmap it.
    pub unsafe fn map_pfn(&mut self, idx: usize) -> Result<DmaAddress> {
        // SAFETY: By the function's contract.
        unsafe { self.map_pfn_with(idx, &mut P2p::new()) }
    }

    /// [`DmaMap::map_pfn`], with the P2PDMA state of the caller's.
    ///
    /// # Safety
    ///
    /// As for [`DmaMap::map_pfn`].
    unsafe fn map_pfn_with(&mut self, idx: usize, p2p: &mut P2p) -> Result<DmaAddress> {
        let word = *self.pfns.get(idx).ok_or(EINVAL)?;
        let pfn = Pfn::from_raw(word);
        if pfn.is_error() {
            return Err(EFAULT);
        }
        if !pfn.is_valid() {
            return Err(EINVAL);
        }
        // The device may write only what the process may.
        if self.check_write && !pfn.is_writable() && self.dir != DataDirection::ToDevice {
            return Err(EPERM);
        }
        let mut slots = self.dma.get_mut()?;
        if pfn.is_dma_mapped() && !pfn.is_p2pdma_bus() {
            match &slots.path {
                Path::Iova(state) => return Ok(state.addr + (idx * PAGE_SIZE) as u64),
                Path::Streaming(Some(list)) => return Ok(list[idx]),
                // Mapping is stateless for this device: map again.
                Path::Streaming(None) => (),
            }
        }
        // SAFETY: By the function's contract the page stays allocated until
        // unmapped; the entry is valid and, on a path that keeps state, not
        // mapped.
        let (addr, linked, flags) = unsafe { slots.map_one(idx, pfn, p2p) }?;
        // INVARIANT: The entry is mapped.
        self.pfns[idx] |= flags;
        if linked {
            if let Err(err) = slots.sync(idx, idx) {
                slots.unmap_one(idx, self.pfns[idx]);
                // INVARIANT: The entry is no longer mapped.
                self.pfns[idx] &= !INOUT_FLAGS;
                return Err(err);
            }
        }
        Ok(addr)
    }

    /// Maps the entries of `first..first + count` that hold a valid page
    /// and are not mapped yet, with one IOTLB sync for all of them on the
    /// IOVA path; returns how many it mapped.
    ///
    /// Stops at the first entry that fails to map, leaving the entries
    /// before it mapped. Returns `ENXIO` once the driver has unbound.
    ///
    /// # Safety
    ///
    /// As for [`DmaMap::map_pfn`], for every entry mapped.
    pub unsafe fn map_range(&mut self, first: usize, count: usize) -> Result<usize> {
        let end = first.checked_add(count).ok_or(EINVAL)?;
        if count == 0 || end > self.len() {
            return Err(EINVAL);
        }
        let Self {
            pfns,
            dir,
            dma,
            iova,
            check_write,
        } = self;
        let mut slots = dma.get_mut()?;
        let mut mapped = 0;
        let mut result = Ok(());
        // The entries linked, to sync: `lo..=hi`, empty while `lo > hi`.
        // Entries go in order, so `hi` is the last one linked.
        let (mut lo, mut hi) = (usize::MAX, 0);
        // One answer per provider for the call: providers may come and go
        // between calls.
        let mut p2p = P2p::new();
        // The flag a linked entry needs: write access when the device may
        // write, unless the C helpers map it (bidirectionally, as upstream).
        let write = if !*check_write || *dir == DataDirection::ToDevice {
            0
        } else {
            WRITE
        };
        let mut idx = first;
        while idx < end {
            let word = pfns[idx];
            // Valid, not an error and not mapped yet: one test.
            if word & (VALID | ERROR | DMA_MAPPED) != VALID {
                idx += 1;
                continue;
            }
            let pfn = Pfn::from_raw(word);
            if word & write != write {
                result = Err(EPERM);
                break;
            }
            // SAFETY: By the function's contract the page stays allocated.
            if iova.is_some() && unsafe { p2p.reach(&slots.dev, pfn.pfn()) } == MapType::None {
                // The run from here: entries with the same flags and the
                // next pages, whose words are `word + n` (the PFN is below
                // the flags, and a page's PFN plus an entry count does not
                // carry into them); plain too, by those flags and, in a new
                // subsection, by asking again. One link for all of them.
                let mut n = 1;
                while idx + n < end && pfns[idx + n] == word.wrapping_add(n as c_ulong) {
                    // SAFETY: As above.
                    if unsafe { p2p.reach(&slots.dev, pfn.pfn() + n) } != MapType::None {
                        break;
                    }
                    n += 1;
                }
                // SAFETY: By the function's contract the pages stay
                // allocated while linked; the entries are not mapped.
                if let Err(err) = unsafe { slots.link_run(idx, n, pfn.phys()) } {
                    result = Err(err);
                    break;
                }
                for word in &mut pfns[idx..idx + n] {
                    // INVARIANT: The entry is linked at its offset.
                    *word |= DMA_MAPPED;
                }
                mapped += n;
                (lo, hi) = (lo.min(idx), idx + n - 1);
                idx += n;
                continue;
            }
            // SAFETY: By the function's contract; the entry is valid and not
            // mapped.
            match unsafe { slots.map_one(idx, pfn, &mut p2p) } {
                Ok((_, link, flags)) => {
                    // INVARIANT: The entry is mapped.
                    pfns[idx] |= flags;
                    mapped += 1;
                    if link {
                        (lo, hi) = (lo.min(idx), idx);
                    }
                }
                Err(err) => {
                    result = Err(err);
                    break;
                }
            }
            idx += 1;
        }
        if lo <= hi {
            let synced = slots.sync(lo, hi);
            if result.is_ok() {
                result = synced;
            }
        }
        result.map(|()| mapped)
    }

    /// Unmaps the mapped entries of `first..first + count`; returns how
    /// many there were.
    ///
    /// On the IOVA path each run of linked entries goes with one unlink,
    /// and so one IOTLB flush, rather than one per entry. Once the driver
    /// has unbound, nothing is mapped any more: the entries are only
    /// cleared.
    pub fn unmap_range(&mut self, first: usize, count: usize) -> usize {
        let end = first.saturating_add(count).min(self.len());
        let Self {
            pfns, dma, iova, ..
        } = self;
        let mut slots = dma.get_mut().ok();
        let mut unmapped = 0;
        if iova.is_none() || slots.is_none() {
            // Entry by entry; or, once the driver has unbound, only cleared.
            for idx in first.min(end)..end {
                let word = pfns[idx];
                if word & DMA_MAPPED != 0 {
                    if let Some(slots) = &mut slots {
                        slots.unmap_one(idx, word);
                    }
                    // INVARIANT: The entry is no longer mapped.
                    pfns[idx] &= !INOUT_FLAGS;
                    unmapped += 1;
                }
            }
            return unmapped;
        }
        let Some(slots) = &mut slots else {
            return 0;
        };
        // Entries that are not linked plainly go one by one.
        for idx in first.min(end)..end {
            let word = pfns[idx];
            if word & DMA_MAPPED != 0 && word & (P2PDMA | P2PDMA_BUS) != 0 {
                slots.unmap_one(idx, word);
                // INVARIANT: The entry is no longer mapped.
                pfns[idx] &= !INOUT_FLAGS;
                unmapped += 1;
            }
        }
        let mut at = first;
        while let Some((start, stop)) = linked_run(&pfns[..end], at) {
            slots.unlink_run(start, stop);
            for word in &mut pfns[start..stop] {
                // INVARIANT: The entry is no longer mapped.
                *word &= !INOUT_FLAGS;
            }
            unmapped += stop - start;
            at = stop;
        }
        unmapped
    }

    /// Unmaps entry `idx`; returns whether it was mapped. Once the driver
    /// has unbound, nothing is mapped any more: the entry is only cleared.
    pub fn unmap_pfn(&mut self, idx: usize) -> bool {
        let Some(&word) = self.pfns.get(idx) else {
            return false;
        };
        if word & DMA_MAPPED == 0 {
            return false;
        }
        if let Ok(mut slots) = self.dma.get_mut() {
            slots.unmap_one(idx, word);
        }
        // INVARIANT: The entry is no longer mapped.
        self.pfns[idx] &= !INOUT_FLAGS;
        true
    }

    /// Bytes the map keeps per entry: the PFN word, plus a DMA address on
    /// the streaming path when unmapping needs it.
    pub fn bytes_per_entry(&self) -> usize {
        let list = match &self.dma {
            Dma::Plain(Slots {
                path: Path::Streaming(Some(_)),
                ..
            }) => core::mem::size_of::<DmaAddress>(),
            Dma::Tied(tied) => tied.get().map_or(0, |slots| match slots.path {
                Path::Streaming(Some(_)) => core::mem::size_of::<DmaAddress>(),
                _ => 0,
            }),
            _ => 0,
        };
        core::mem::size_of::<c_ulong>() + list
    }
}

/// The next run `start..stop` of entries at or after `from` that are
/// linked plainly (mapped, not peer to peer), if any.
fn linked_run(pfns: &[c_ulong], from: usize) -> Option<(usize, usize)> {
    let linked = |word: &c_ulong| word & (DMA_MAPPED | P2PDMA | P2PDMA_BUS) == DMA_MAPPED;
    let start = from + pfns.get(from..)?.iter().position(linked)?;
    let stop = start + pfns[start..].iter().take_while(|w| linked(w)).count();
    Some((start, stop))
}

impl Drop for DmaMap {
    fn drop(&mut self) {
        // Peer-to-peer entries through the host bridge are unlinked without
        // CPU cache maintenance, one by one (they are rare); dropping the
        // slots unlinks the others all at once, a call per run and one
        // flush. Once the driver has unbound, the unbind did all that.
        let Self { pfns, dma, .. } = self;
        if let Ok(mut slots) = dma.get_mut() {
            for idx in 0..pfns.len() {
                let word = pfns[idx];
                if word & (DMA_MAPPED | P2PDMA) == DMA_MAPPED | P2PDMA {
                    slots.unmap_one(idx, word);
                    pfns[idx] &= !INOUT_FLAGS;
                }
            }
        }
    }
}

// An entry that is valid but not mapped must not look mapped.
crate::static_assert!(VALID & DMA_MAPPED == 0);
