// SPDX-License-Identifier: GPL-2.0

//! Mapping a list of pages for a device, whatever sits between them.
//!
//! [`MappedPages`] is the one path a driver needs: behind a translating
//! IOMMU it links the pages into one IOVA [`Reservation`], so the device
//! sees one contiguous range and one IOTLB sync covers it; otherwise it maps
//! each page with `dma_map_page_attrs()`. The driver gets each page's DMA
//! address once, to program the device, and keeps nothing per page: the
//! mapping keeps a DMA address per page only on the streaming path and only
//! when `dma_need_unmap()` says that unmapping needs it.
//!
//! The mapping owns its pages while they are mapped and gives them back
//! with [`MappedPages::into_pages`]: leaking the mapping leaks the pages
//! too, so the device can never reach freed memory (in lazy mode, as for
//! every unmap, once the flush queue has flushed).
//!
//! Like a [`Reservation`], the mapping is made for a bound device and its
//! DMA side goes with the binding: if the driver unbinds first, the pages
//! are unmapped then, and only the pages are left to give back.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use super::{iova::Reservation, tied::Tied, Attrs, DataDirection, DmaAddress};
use crate::{
    alloc::{flags::GFP_KERNEL, KVec},
    bindings,
    device::{Bound, Device},
    error::{code::*, Result},
    page::{Page, PAGE_SIZE},
    types::ARef,
};

enum Path {
    Iova(Reservation<'static>),
    /// The mappings, when unmapping needs them.
    Streaming(Option<Tied<Streamed>>),
}

/// Pages mapped one by one with `dma_map_page_attrs()`, unmapped when
/// dropped: by the mapping's drop, or by the driver's unbind.
///
/// # Invariants
///
/// Each of `addresses` is a mapping of one page for `dev` in direction
/// `dir`, until `self` is dropped.
struct Streamed {
    dev: ARef<Device>,
    addresses: KVec<DmaAddress>,
    dir: DataDirection,
}

impl Drop for Streamed {
    fn drop(&mut self) {
        for &dma in self.addresses.iter() {
            // SAFETY: By the type invariant `dma` is a mapping of `dev`, of
            // one page, in direction `dir`.
            unsafe {
                bindings::dma_unmap_page_attrs(
                    self.dev.as_raw(),
                    dma,
                    PAGE_SIZE,
                    self.dir.as_raw(),
                    0,
                )
            };
        }
    }
}

/// Pages mapped for DMA by a device, by the two-step API or page by page.
///
/// Dropping it unmaps every page, unless the driver's unbind did already.
///
/// # Examples
///
/// On a device without IOMMU, the pages are mapped one by one, at their
/// physical addresses; the mapping keeps those only if unmapping needs
/// them:
///
/// ```
/// use kernel::{
///     bindings, dma,
///     dma::{pages::MappedPages, DataDirection},
///     kunit::Test,
///     page::Page,
/// };
///
/// # let test = Test::current().unwrap();
/// # let dev = test.device(kernel::c_str!("doc-pages"))?;
/// # // SAFETY: A KUnit device stays bound to its driver until the test ends.
/// # let dev = unsafe { dev.as_bound() };
/// dma::set_mask_and_coherent(dev, 64)?;
/// let mut pages = KVec::new();
/// pages.push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
/// pages.push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
/// let mut table = [0; 2];
/// let mapped = MappedPages::map(dev, pages, DataDirection::FromDevice, |i, addr| {
///     // Program the device's page table.
///     table[i] = addr;
/// })?;
/// assert!(!mapped.uses_iova());
/// assert_eq!(mapped.range(), None);
/// // SAFETY: The page is valid.
/// assert_eq!(table[1], unsafe { bindings::page_to_phys(mapped.pages()[1].as_ptr()) });
/// let kept = if dma::need_unmap(dev) { 2 * 8 } else { 0 };
/// assert_eq!(mapped.tracking_bytes(), kept);
/// // Unmapped, the pages come back.
/// let pages = mapped.into_pages();
/// assert_eq!(pages.len(), 2);
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// - On the two-step path, the reservation links exactly `pages`, which the
///   mapping owns until the reservation is gone.
/// - On the streaming path, every page of `pages` is mapped, at the address
///   the `Streamed` holds until it is revoked, when there is one; otherwise
///   `dma_need_unmap()` was false for the device once they were mapped.
pub struct MappedPages {
    // Dropped first: the mappings go before the pages.
    path: Path,
    pages: KVec<Page>,
}

impl MappedPages {
    /// Maps `pages` for `dev` in direction `dir` and calls
    /// `address(index, dma_address)` for each page, in order, so that the
    /// driver can write the device's page table.
    ///
    /// Behind a translating IOMMU the addresses are consecutive: page `i`
    /// is at the first address plus `i * PAGE_SIZE`, and each run of
    /// physically contiguous pages is one link.
    pub fn map(
        dev: &Device<Bound>,
        pages: KVec<Page>,
        dir: DataDirection,
        mut address: impl FnMut(usize, DmaAddress),
    ) -> Result<Self> {
        if pages.is_empty() {
            return Err(EINVAL);
        }
        let size = pages.len().checked_mul(PAGE_SIZE).ok_or(EOVERFLOW)?;
        if let Some(mut iova) = Reservation::try_alloc(dev, size, 0, dir, Attrs::empty())? {
            let list: *const [Page] = &*pages;
            // One link per run of contiguous pages: the IOMMU maps each run
            // with its largest page sizes, and teardown unmaps it in one.
            // SAFETY: The mapping owns the pages, in a vector that is not
            // changed while the reservation lives, and drops the reservation
            // first; leaking the mapping leaks the pages.
            unsafe { iova.link_pages(0, &*list) }?;
            iova.sync_all()?;
            let base = iova.dma_address(0)?;
            for i in 0..pages.len() {
                address(i, base + (i * PAGE_SIZE) as u64);
            }
            // INVARIANT: The reservation links exactly `pages`.
            return Ok(Self {
                path: Path::Iova(iova),
                pages,
            });
        }

        // Whether unmapping needs the addresses is only known once the
        // pages are mapped (a mapping may bounce): keep them all until then.
        // INVARIANT: Each page's address is kept as soon as it is mapped, so
        // a failure part-way unmaps exactly the pages mapped so far.
        let mut streamed = Streamed {
            dev: dev.into(),
            addresses: KVec::with_capacity(pages.len(), GFP_KERNEL)?,
            dir,
        };
        for (i, page) in pages.iter().enumerate() {
            // SAFETY: `dev` and `page` are valid; the mapping owns the page
            // until it is unmapped.
            let dma = unsafe {
                bindings::dma_map_page_attrs(
                    dev.as_raw(),
                    page.as_ptr(),
                    0,
                    PAGE_SIZE,
                    dir.as_raw(),
                    0,
                )
            };
            // SAFETY: `dev` is valid.
            if unsafe { bindings::dma_mapping_error(dev.as_raw(), dma) } != 0 {
                return Err(ENOMEM);
            }
            // Cannot fail: the capacity is reserved.
            streamed.addresses.push(dma, GFP_KERNEL)?;
            address(i, dma);
        }
        let kept = if super::need_unmap(dev) {
            // If it cannot be tied to the binding, dropping `streamed` unmaps.
            Some(Tied::new(dev, streamed)?)
        } else {
            // INVARIANT: `dma_need_unmap()` is false now that all are mapped:
            // forget the addresses rather than unmap.
            streamed.addresses = KVec::new();
            None
        };
        Ok(Self {
            path: Path::Streaming(kept),
            pages,
        })
    }

    /// Unmaps the pages and gives them back.
    pub fn into_pages(mut self) -> KVec<Page> {
        self.unmap();
        core::mem::replace(&mut self.pages, KVec::new())
    }

    /// Unmaps the pages: dropping the reservation unlinks them all, and
    /// dropping the streamed mappings unmaps each page.
    fn unmap(&mut self) {
        self.path = Path::Streaming(None);
    }

    /// Whether the driver has unbound, which unmapped the pages.
    pub fn is_revoked(&self) -> bool {
        match &self.path {
            Path::Iova(iova) => iova.is_revoked(),
            Path::Streaming(Some(streamed)) => streamed.is_revoked(),
            Path::Streaming(None) => false,
        }
    }

    /// Whether the pages went through the two-step API (one contiguous
    /// range) rather than page by page.
    pub fn uses_iova(&self) -> bool {
        matches!(self.path, Path::Iova(_))
    }

    /// The contiguous range the device sees, on the two-step path.
    pub fn range(&self) -> Option<(DmaAddress, usize)> {
        match &self.path {
            Path::Iova(iova) => Some((iova.dma_address(0).ok()?, iova.size())),
            Path::Streaming(_) => None,
        }
    }

    /// The pages mapped.
    pub fn pages(&self) -> &[Page] {
        &self.pages
    }

    /// Bytes the mapping keeps per page to unmap: 3 bits on the two-step
    /// path, a DMA address when the streaming path needs it, else nothing.
    pub fn tracking_bytes(&self) -> usize {
        match &self.path {
            Path::Iova(iova) => iova.tracking_bytes(),
            Path::Streaming(Some(streamed)) => streamed.get().map_or(0, |s| {
                s.addresses.len() * core::mem::size_of::<DmaAddress>()
            }),
            Path::Streaming(None) => 0,
        }
    }
}

impl Drop for MappedPages {
    fn drop(&mut self) {
        self.unmap();
    }
}
