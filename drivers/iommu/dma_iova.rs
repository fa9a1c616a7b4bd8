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
//! Each reservation has a link record ([`Links`]), allocated with it: two
//! bits per granule, one saying that the granule is linked and one that a
//! link starts there, and a list of the granules that were linked in part
//! and need more than an unmap at teardown (bounced through swiotlb). So:
//!
//! - teardown unmaps each run of linked granules with one call to the IOMMU
//!   driver, and never asks it to unmap across a hole, which some drivers
//!   (virtio-iommu) mishandle by dropping their own record of the range
//!   without telling the device; it makes no per-granule lookup;
//! - an unlink that cuts a link in two unmaps the whole link and maps the
//!   part still linked again, because an IOMMU may be unable to split a
//!   mapping (virtio-iommu cannot split one made by a single request);
//! - a bounced granule copies back only the bytes that were linked;
//! - links and unlinks of disjoint ranges of one reservation may run
//!   concurrently: every update of the record and of the state's flags is
//!   atomic.
//!
//! Under `CONFIG_DMA_API_DEBUG` every misuse is reported, not only the
//! first of each kind, and more is checked (see [`debug`]).
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use bitmap::{LINKED, START};
use core::{
    alloc::Layout,
    mem::size_of,
    pin::Pin,
    ptr::{self, NonNull},
    slice,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering},
};
use kernel::{
    alloc::{
        allocator::Kmalloc,
        flags::{GFP_ATOMIC, __GFP_NOWARN},
        Allocator, KBox,
    },
    bindings, c_str,
    dma::{Attrs, DataDirection},
    error::{code::*, Result},
    ffi::{c_int, c_uint, c_ulong},
    iommu::{Domain, Gather, Prot},
    str::CStr,
};

// bindgen cannot translate these C constants, above `i64::MAX`;
// dma_iova_exports.c asserts that they match the C definitions.
const USE_SWIOTLB: u64 = 1 << 63;
const KEEP_IOVA: u64 = 1 << 62;
const FLAGS: u64 = USE_SWIOTLB | KEEP_IOVA;
const MAPPING_ERROR: u64 = u64::MAX;

/// Attributes under which a link or its teardown does no CPU cache
/// maintenance: the caller's say-so, or MMIO, which is not cached.
const NO_CPU_SYNC: Attrs = Attrs::from_raw(Attrs::SKIP_CPU_SYNC.as_raw() | Attrs::MMIO.as_raw());

// The state's `__size` is updated atomically in place.
kernel::static_assert!(core::mem::align_of::<bindings::dma_iova_state>() >= 8);

/// A granule linked in part that teardown must do more for than unmap: a
/// swiotlb bounce buffer, copied back and released once the device has lost
/// it.
///
/// # Invariants
///
/// `tlb` is a bounce buffer of one granule mapped at granule `granule` of
/// its reservation while `live` is true; `[off, off + len)` of it are the
/// caller's bytes. `next` does not change once the node is on its list.
struct Bounce {
    next: *mut Bounce,
    granule: usize,
    off: u64,
    len: u64,
    tlb: u64,
    live: AtomicBool,
}

/// The link record of a reservation, followed in memory by its bitmap of
/// `words` words: two bits per granule, one set when the granule is linked,
/// one when a link starts there (see [`bitmap`]).
///
/// # Invariants
///
/// - `domain` is the paging DMA domain the reservation was made in, with
///   granule `1 << shift`; `coherent` and `lazy` describe the device and
///   the domain at that time (they do not change while a driver is bound).
/// - Granule `i` of the reservation is marked linked in the bitmap exactly
///   when a link maps it, and marked as a start when a link (or the part of
///   one that an unlink left) begins in it. A run of granules from one
///   start bit to the next start bit or unlinked granule was mapped by one
///   call to [`Domain::map`] and holds contiguous memory, but for bounced
///   granules at its ends.
/// - `bounces` is a list of [`Bounce`] nodes, freed with the record.
#[repr(C)]
struct Links {
    /// The record's entry in the table of live reservations.
    #[cfg(CONFIG_DMA_API_DEBUG)]
    debug: kernel::types::Opaque<bindings::dma_iova_debug_entry>,
    domain: *mut bindings::iommu_domain,
    granules: usize,
    words: usize,
    shift: u32,
    coherent: bool,
    lazy: bool,
    bounces: AtomicPtr<Bounce>,
}

impl Links {
    fn layout(words: usize) -> Option<Layout> {
        let size = size_of::<Links>().checked_add(words.checked_mul(size_of::<u64>())?)?;
        Layout::from_size_align(size, core::mem::align_of::<Links>()).ok()
    }

    /// Allocates the record of a reservation of `granules` granules, with
    /// nothing linked.
    fn alloc(t: &Target<'_>, granules: usize) -> Option<NonNull<Links>> {
        let words = granules.div_ceil(32);
        let layout = Self::layout(words)?;
        // The engine may be called in atomic context, as upstream's is.
        let mem = Kmalloc::alloc(layout, GFP_ATOMIC | __GFP_NOWARN).ok()?;
        let links = mem.cast::<Links>();
        // SAFETY: `mem` is valid for writes of `layout`, which holds the
        // header followed by `words` words, suitably aligned.
        unsafe {
            links.as_ptr().write(Links {
                #[cfg(CONFIG_DMA_API_DEBUG)]
                debug: kernel::types::Opaque::uninit(),
                domain: t.domain.as_raw(),
                granules,
                words,
                shift: t.granule.trailing_zeros(),
                coherent: t.coherent(),
                lazy: t.lazy(),
                bounces: AtomicPtr::new(ptr::null_mut()),
            });
            ptr::write_bytes(links.as_ptr().add(1).cast::<u64>(), 0, words);
        }
        // INVARIANT: Nothing is linked; the domain, granule and flags are
        // the target's.
        Some(links)
    }

    /// Frees a record and its bounce nodes.
    ///
    /// # Safety
    ///
    /// `links` came from [`Links::alloc`] and is not used again.
    unsafe fn free(links: NonNull<Links>) {
        // SAFETY: By the function's contract the record is valid.
        let this = unsafe { links.as_ref() };
        let mut node = this.bounces.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: Nodes on the list come from `KBox::into_raw` and are
            // freed only here.
            let b = unsafe { KBox::from_raw(node) };
            node = b.next;
        }
        // `alloc()` computed the same layout successfully.
        let layout = Self::layout(this.words).unwrap_or(Layout::new::<Links>());
        // SAFETY: Allocated by `Kmalloc` with this layout.
        unsafe { Kmalloc::free(links.cast(), layout) };
    }

    #[inline]
    fn domain(&self) -> &Domain {
        // SAFETY: By the type invariant the domain is the reservation's DMA
        // domain, attached while its driver is bound.
        unsafe { Domain::from_raw(self.domain) }
    }

    #[inline]
    fn granule(&self) -> u64 {
        // `shift < 64` by the type invariant: no overflow check needed.
        1u64.wrapping_shl(self.shift)
    }

    #[inline]
    fn bits(&self) -> &[AtomicU64] {
        // SAFETY: The record is followed by `words` initialised words (see
        // `Links::alloc`), which are only accessed atomically.
        unsafe { slice::from_raw_parts(ptr::from_ref(self).add(1).cast(), self.words) }
    }

    /// Records a bounce node; it stays on the list until the record goes.
    fn push(&self, node: KBox<Bounce>) {
        let node = KBox::into_raw(node);
        let mut head = self.bounces.load(Ordering::Relaxed);
        loop {
            // SAFETY: The node is ours until it is on the list.
            unsafe { (*node).next = head };
            match self.bounces.compare_exchange_weak(
                head,
                node,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(now) => head = now,
            }
        }
    }

    /// The live bounce node of granule `i`, if any.
    fn bounce_at(&self, i: usize) -> Option<&Bounce> {
        let mut node = self.bounces.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: Nodes stay valid until the record is freed.
            let b = unsafe { &*node };
            if b.granule == i && b.live.load(Ordering::Relaxed) {
                return Some(b);
            }
            node = b.next;
        }
        None
    }
}

/// The record's bitmap: two bits per granule in each word, granule `i` in
/// word `i / 32` at bit `2 * (i % 32)` ([`LINKED`]) and the bit above it
/// ([`START`]), so that one atomic access reads or changes both bits of a
/// granule together. `first..=last` are granules.
mod bitmap {
    use core::sync::atomic::{
        AtomicU64,
        Ordering::{AcqRel, Acquire, Relaxed},
    };

    /// Which of a granule's two bits.
    #[derive(Clone, Copy)]
    pub(super) struct Kind(u32);

    /// The granule is linked.
    pub(super) const LINKED: Kind = Kind(0);
    /// A link starts in the granule.
    pub(super) const START: Kind = Kind(1);

    const EVEN: u64 = 0x5555_5555_5555_5555;

    /// The bits of `kind` of word `w` for granules in `first..=last`.
    #[inline(always)]
    pub(super) fn mask(w: usize, first: usize, last: usize, kind: Kind) -> u64 {
        // `w` is the word of a granule of `first..=last`: `lo` and `hi` are
        // in `0..32`, so nothing below wraps (hence no overflow checks on
        // this hot path).
        let at = w.wrapping_mul(32);
        let lo = first.max(at).wrapping_sub(at);
        let hi = last.min(at.wrapping_add(31)).wrapping_sub(at);
        (u64::MAX >> (62 - 2 * hi as u32)) & (u64::MAX << (2 * lo as u32)) & (EVEN << kind.0)
    }

    /// Marks `first..=last` linked, with a link starting at `first`, unless
    /// one of them is linked already: then nothing changes and it returns
    /// false.
    #[inline(always)]
    pub(super) fn claim(map: &[AtomicU64], first: usize, last: usize) -> bool {
        let w0 = first / 32;
        for (w, word) in (w0..).zip(&map[w0..=last / 32]) {
            let mut m = mask(w, first, last, LINKED);
            if w == w0 {
                m |= mask(w, first, first, START);
            }
            // Granules of disjoint ranges are set by one atomic OR each, so
            // the check may read first: a link racing an overlapping one is
            // a caller's bug that the check may then miss, not a corruption
            // of the other ranges' bits.
            if word.load(Relaxed) & m & EVEN != 0 {
                if w != w0 {
                    // Give back the granules of the words set before.
                    clear(map, first, w * 32 - 1);
                }
                return false;
            }
            word.fetch_or(m, AcqRel);
        }
        true
    }

    /// Claims granule `i` as a link of its own, like [`claim`] for one
    /// granule: one word, one mask.
    #[inline(always)]
    pub(super) fn claim_one(map: &[AtomicU64], i: usize) -> bool {
        let word = &map[i / 32];
        // `at < 64`: no overflow check.
        let at = 2 * (i % 32) as u32;
        if word.load(Relaxed) & (1 << at) != 0 {
            return false;
        }
        word.fetch_or(3 << at, AcqRel);
        true
    }

    /// Clears both bits of granule `i`.
    #[inline]
    pub(super) fn clear_one(map: &[AtomicU64], i: usize) {
        map[i / 32].fetch_and(!(3 << (2 * (i % 32) as u32)), AcqRel);
    }

    /// Sets the `kind` bits of `first..=last`.
    pub(super) fn set(map: &[AtomicU64], first: usize, last: usize, kind: Kind) {
        let w0 = first / 32;
        for (w, word) in (w0..).zip(&map[w0..=last / 32]) {
            word.fetch_or(mask(w, first, last, kind), AcqRel);
        }
    }

    /// Clears both bits of `first..=last`.
    #[inline]
    pub(super) fn clear(map: &[AtomicU64], first: usize, last: usize) {
        let w0 = first / 32;
        for (w, word) in (w0..).zip(&map[w0..=last / 32]) {
            let m = mask(w, first, last, LINKED) | mask(w, first, last, START);
            word.fetch_and(!m, AcqRel);
        }
    }

    /// Both bits of granule `i`: (linked, start).
    #[inline(always)]
    pub(super) fn get(map: &[AtomicU64], i: usize) -> (bool, bool) {
        let word = map[i / 32].load(Acquire) >> (2 * (i % 32));
        (word & 1 != 0, word & 2 != 0)
    }

    /// The first granule in `from..end` whose `kind` bit is `want`, or `end`.
    #[inline(always)]
    pub(super) fn next(
        map: &[AtomicU64],
        from: usize,
        end: usize,
        kind: Kind,
        want: bool,
    ) -> usize {
        let mut i = from;
        while i < end {
            let word = map[i / 32].load(Relaxed);
            let word = if want { word } else { !word };
            let rest = word & (EVEN << kind.0) & (u64::MAX << (2 * (i % 32)));
            if rest != 0 {
                return ((i & !31) + rest.trailing_zeros() as usize / 2).min(end);
            }
            i = (i & !31) + 32;
        }
        end
    }

    /// The first granule in `from..end` that does not continue the link
    /// before it: unlinked, or where a link starts; `end` if none. Each word
    /// is read once, so a granule is judged on one snapshot of its bits: a
    /// concurrent link of the next granules cannot be seen half made.
    pub(super) fn unit_end(map: &[AtomicU64], from: usize, end: usize) -> usize {
        let mut i = from;
        while i < end {
            let word = map[i / 32].load(Acquire);
            let stop = (!word | (word >> 1)) & EVEN & (u64::MAX << (2 * (i % 32)));
            if stop != 0 {
                return ((i & !31) + stop.trailing_zeros() as usize / 2).min(end);
            }
            i = (i & !31) + 32;
        }
        end
    }

    /// The last granule at or before `at` where a link starts, if any.
    pub(super) fn prev_start(map: &[AtomicU64], at: usize) -> Option<usize> {
        let mut w = at / 32;
        let mut word = map[w].load(Relaxed) & (u64::MAX >> (62 - 2 * (at % 32)));
        loop {
            word &= EVEN << START.0;
            if word != 0 {
                return Some(w * 32 + (63 - word.leading_zeros() as usize) / 2);
            }
            if w == 0 {
                return None;
            }
            w -= 1;
            word = map[w].load(Relaxed);
        }
    }
}

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

    fn coherent(&self) -> bool {
        // SAFETY: `dev` is valid by the type invariant.
        unsafe { bindings::dev_is_dma_coherent(self.dev) }
    }

    fn lazy(&self) -> bool {
        // SAFETY: `domain` is the DMA domain of `dev` by the type invariant.
        unsafe { bindings::iommu_dma_iova_lazy(self.domain.as_raw()) }
    }
}

/// A reservation, as the exported functions see it: a pointer to the
/// caller's `struct dma_iova_state`.
///
/// `addr` and `__links` are written only by `dma_iova_try_alloc()` and the
/// teardown functions, which the caller does not run concurrently with
/// anything else on the state; `__size` may have flags set concurrently by
/// links, so it is accessed atomically.
///
/// # Invariants
///
/// The pointer is valid for the lifetime of the value.
struct State(*mut bindings::dma_iova_state);

impl State {
    #[inline]
    fn addr(&self) -> u64 {
        // SAFETY: Valid by the type invariant; not written concurrently.
        unsafe { (*self.0).addr }
    }

    #[inline]
    fn size_word(&self) -> &AtomicU64 {
        // SAFETY: Valid by the type invariant and aligned (asserted above);
        // every access that may race goes through this atomic.
        unsafe { AtomicU64::from_ptr(ptr::addr_of_mut!((*self.0).__size)) }
    }

    #[inline]
    fn flags(&self) -> u64 {
        self.size_word().load(Ordering::Relaxed) & FLAGS
    }

    fn set_flag(&self, flag: u64) {
        self.size_word().fetch_or(flag, Ordering::Relaxed);
    }

    /// The reserved size, without the flags.
    #[inline]
    fn reserved(&self) -> u64 {
        self.size_word().load(Ordering::Relaxed) & !FLAGS
    }

    /// The link record of a reservation; `None` for a state without one.
    #[inline]
    fn links(&self) -> Option<&Links> {
        // SAFETY: Valid by the type invariant; not written concurrently.
        let links = unsafe { (*self.0).__links }.cast::<Links>();
        if self.reserved() == 0 || links.is_null() {
            return None;
        }
        // SAFETY: A reservation's record lives until its teardown, which
        // does not run concurrently with this use.
        Some(unsafe { &*links })
    }

    /// The IOVA of the reservation's first granule.
    #[inline]
    fn base(&self, links: &Links) -> u64 {
        self.addr() & !(links.granule() - 1)
    }

    /// Checks that `[offset, offset + size)` is a non-empty part of the
    /// reservation; returns its first and last granule.
    #[inline]
    fn span(&self, links: &Links, offset: usize, size: usize) -> Result<(usize, usize)> {
        let (end, wraps) = (offset as u64).overflowing_add(size as u64);
        if wraps {
            return Err(EOVERFLOW);
        }
        // One branch for both (`|`, not `||`).
        if (size == 0) | (end > self.reserved()) {
            return Err(EINVAL);
        }
        // `start + size <= reserved + head`, which fits: no wrapping.
        let start = (self.addr() - self.base(links)).wrapping_add(offset as u64);
        Ok((
            start.wrapping_shr(links.shift) as usize,
            start
                .wrapping_add(size as u64 - 1)
                .wrapping_shr(links.shift) as usize,
        ))
    }

    fn clear(&mut self) {
        // SAFETY: Valid by the type invariant; the caller owns the state.
        unsafe { *self.0 = bindings::dma_iova_state::default() };
    }
}

static UNLINKED: AtomicBool = AtomicBool::new(false);
static BAD_UNLINK: AtomicBool = AtomicBool::new(false);
static FREED_LINKED: AtomicBool = AtomicBool::new(false);
static KEPT: AtomicBool = AtomicBool::new(false);
static MIXED_COHERENT: AtomicBool = AtomicBool::new(false);

/// Reports a misuse: each one under DMA-API debugging, otherwise once per
/// boot and kind (`done`), like `dev_warn_once()`.
fn misuse(done: &AtomicBool, dev: *mut bindings::device, fmt: &CStr, a: u64, b: u64) {
    if debug::ON {
        debug::report(dev, fmt, a, b);
    } else {
        warn_once(done, dev, fmt, a, b);
    }
}

/// Warns once per boot and kind (`done`), like `dev_warn_once()`.
fn warn_once(done: &AtomicBool, dev: *mut bindings::device, fmt: &CStr, a: u64, b: u64) {
    if !done.swap(true, Ordering::Relaxed) {
        // SAFETY: `dev` is a valid device and `fmt` a format taking two
        // `u64` values.
        unsafe { bindings::_dev_warn(dev, fmt.as_char_ptr(), a, b) };
    }
}

/// DMA-API debugging of the two-step API, under `CONFIG_DMA_API_DEBUG`;
/// without it, every function here is empty and [`ON`](debug::ON) false.
///
/// Besides reporting every misuse that [`misuse`] sees, it reports
/// overlapping links, `dma_iova_destroy()` of links past its `mapped_len`
/// (which upstream's would leave mapped), and any use of a state whose
/// record is not in the table of live reservations that
/// `dma_iova_debug.c` keeps: a copy of a state after the reservation's
/// teardown, or a state of another device. That table also finds the
/// reservations a driver left behind when it unbinds.
mod debug {
    use super::{Links, State};
    use core::ptr::NonNull;
    use kernel::{bindings, str::CStr};

    /// Whether DMA-API debugging is on.
    pub(super) const ON: bool = cfg!(CONFIG_DMA_API_DEBUG);

    /// Reports a misuse with the "DMA-API: " prefix and a stack trace.
    #[cfg(CONFIG_DMA_API_DEBUG)]
    #[cold]
    pub(super) fn report(dev: *mut bindings::device, fmt: &CStr, a: u64, b: u64) {
        // SAFETY: `dev` is a valid device and `fmt` a format taking two
        // `u64` values.
        unsafe { bindings::dma_iova_debug_report(dev, fmt.as_char_ptr(), a, b) };
    }

    #[cfg(not(CONFIG_DMA_API_DEBUG))]
    #[inline(always)]
    pub(super) fn report(_dev: *mut bindings::device, _fmt: &CStr, _a: u64, _b: u64) {}

    /// Enters the new record `links` of a reservation of `dev` at `addr`,
    /// `size` bytes, in the table.
    #[cfg(CONFIG_DMA_API_DEBUG)]
    pub(super) fn add(links: NonNull<Links>, dev: *mut bindings::device, addr: u64, size: u64) {
        // SAFETY: The record is valid and its entry is not in the table:
        // it was just allocated. `del()` takes it out before it is freed.
        unsafe {
            bindings::dma_iova_debug_add((*links.as_ptr()).debug.get(), dev, addr, size as usize)
        };
    }

    #[cfg(not(CONFIG_DMA_API_DEBUG))]
    #[inline(always)]
    pub(super) fn add(_links: NonNull<Links>, _dev: *mut bindings::device, _a: u64, _s: u64) {}

    /// Takes `links` out of the table, before it is freed.
    #[cfg(CONFIG_DMA_API_DEBUG)]
    pub(super) fn del(links: &Links) {
        // SAFETY: A live record's entry is in the table (see `add()`).
        unsafe { bindings::dma_iova_debug_del(links.debug.get()) };
    }

    #[cfg(not(CONFIG_DMA_API_DEBUG))]
    #[inline(always)]
    pub(super) fn del(_links: &Links) {}

    /// Whether the record of `st`, if it has one, may be used with `dev`;
    /// reports why not. `op` names the caller.
    #[cfg(CONFIG_DMA_API_DEBUG)]
    pub(super) fn check(dev: *mut bindings::device, st: &State, op: &CStr) -> bool {
        // SAFETY: The state is valid (type invariant); only the pointer is
        // read, and it is compared, not dereferenced, by the table.
        let links = unsafe { (*st.0).__links };
        if links.is_null() || st.reserved() == 0 {
            return true;
        }
        let entry = links
            .cast::<u8>()
            .wrapping_add(core::mem::offset_of!(Links, debug))
            .cast();
        // SAFETY: `dev` is valid and `op` a string; the entry is only
        // dereferenced when it is in the table, that is, live.
        unsafe {
            bindings::dma_iova_debug_check(
                dev,
                entry,
                st.addr(),
                st.reserved() as usize,
                op.as_char_ptr(),
            )
        }
    }

    #[cfg(not(CONFIG_DMA_API_DEBUG))]
    #[inline(always)]
    pub(super) fn check(_dev: *mut bindings::device, _st: &State, _op: &CStr) -> bool {
        true
    }
}

/// How a reservation maps and tears down: its device, record and base.
struct Ctx<'a> {
    dev: *mut bindings::device,
    links: &'a Links,
    base: u64,
}

impl Ctx<'_> {
    #[inline]
    fn iova(&self, granule: usize) -> u64 {
        // Granules of the reservation: inside its IOVA, which fits.
        self.base
            .wrapping_add((granule as u64).wrapping_shl(self.links.shift))
    }

    #[inline]
    fn len(&self, first: usize, last: usize) -> usize {
        // Granules of the reservation, `first <= last`: no wrapping.
        (last.wrapping_sub(first).wrapping_add(1)).wrapping_shl(self.links.shift)
    }

    /// Maps the granule-aligned `[iova, iova + len)` to `phys`, after the
    /// cache maintenance a non-coherent device needs.
    ///
    /// # Safety
    ///
    /// The range is part of the reservation and unmapped, and the memory
    /// may be accessed by the device as `dir` says until it is unmapped.
    #[inline(always)]
    unsafe fn map(
        &self,
        iova: u64,
        phys: u64,
        len: u64,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Result {
        let coherent = self.links.coherent;
        if !coherent && !attrs.intersects(NO_CPU_SYNC) {
            // SAFETY: `[phys, phys + len)` is memory the caller maps.
            unsafe { bindings::arch_sync_dma_for_device(phys, len as usize, dir.as_raw()) };
        }
        let prot = Prot::for_dma(dir, coherent, attrs);
        // SAFETY: The caller owns the unmapped range and lets the device
        // access the memory.
        unsafe {
            self.links
                .domain()
                .map(iova as usize, phys, len as usize, prot, GFP_ATOMIC)
        }
    }

    /// Bounces `len` bytes at offset `off` of the granule at `gphys` through
    /// swiotlb and maps the bounce granule as granule `granule`; returns
    /// its bounce node, not yet recorded.
    ///
    /// swiotlb hands out a granule-aligned buffer, so the copy starts at the
    /// granule: the `off` bytes before the range are not the caller's and
    /// are zeroed, as is the rest of the granule after it, before the
    /// device can see the buffer.
    ///
    /// # Safety
    ///
    /// As for [`Ctx::map`], for one granule.
    unsafe fn bounce(
        &self,
        granule: usize,
        gphys: u64,
        off: u64,
        len: u64,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Result<KBox<Bounce>> {
        let g = self.links.granule();
        let mut node = KBox::new(
            Bounce {
                next: ptr::null_mut(),
                granule,
                off,
                len,
                tlb: 0,
                live: AtomicBool::new(true),
            },
            GFP_ATOMIC | __GFP_NOWARN,
        )?;
        // SAFETY: `dev` is valid; swiotlb reads `[gphys, gphys + off + len)`,
        // RAM of the granule the caller maps part of.
        let tlb = unsafe {
            bindings::swiotlb_tbl_map_single(
                self.dev,
                gphys,
                (off + len) as usize,
                (g - 1) as c_uint,
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
            ptr::write_bytes(va.add((off + len) as usize), 0, (g - off - len) as usize);
        }
        // SAFETY: The caller reserved the granule; the bounce buffer is ours
        // until we unmap it.
        if let Err(e) = unsafe { self.map(self.iova(granule), tlb, g, dir, attrs) } {
            // SAFETY: `tlb` is the buffer just allocated, not mapped.
            unsafe { self.release(tlb, off + len, dir, attrs) };
            return Err(e);
        }
        node.tlb = tlb;
        Ok(node)
    }

    /// Gives a bounce buffer back to swiotlb, without copying it back.
    ///
    /// # Safety
    ///
    /// `tlb` is a bounce buffer of `dev` of `len` bytes that the device can
    /// no longer reach.
    unsafe fn release(&self, tlb: u64, len: u64, dir: DataDirection, attrs: Attrs) {
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

    /// Copies back the caller's bytes of the live bounce buffers of granules
    /// `first..=last`, unless `copy` is false, and releases them.
    ///
    /// # Safety
    ///
    /// The device can no longer reach those granules: they are unmapped and
    /// the IOTLB is synced.
    unsafe fn unbounce(&self, first: usize, last: usize, dir: DataDirection, attrs: Attrs) {
        let copy = !attrs.contains(Attrs::SKIP_CPU_SYNC) && dir != DataDirection::ToDevice;
        let mut node = self.links.bounces.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: Nodes stay valid until the record is freed.
            let b = unsafe { &*node };
            node = b.next;
            if b.granule < first || b.granule > last || !b.live.swap(false, Ordering::Relaxed) {
                continue;
            }
            if copy {
                let at = b.tlb + b.off;
                if !self.links.coherent {
                    // SAFETY: The bounce buffer is memory of the kernel.
                    unsafe { bindings::arch_sync_dma_for_cpu(at, b.len as usize, dir.as_raw()) };
                }
                // SAFETY: `tlb` is a live bounce buffer of `dev`; swiotlb
                // copies the linked bytes to where they came from.
                unsafe {
                    bindings::swiotlb_sync_single_for_cpu(
                        self.dev,
                        at,
                        b.len as usize,
                        dir.as_raw(),
                    )
                };
            }
            // SAFETY: By the function's contract the device lost the buffer.
            unsafe { self.release(b.tlb, b.off + b.len, dir, attrs) };
        }
    }

    /// CPU cache maintenance after the device wrote granules
    /// `first..=last`, for a non-coherent device: each linked granule is
    /// looked up, as the record keeps no physical address.
    fn sync_for_cpu(&self, first: usize, last: usize, dir: DataDirection, attrs: Attrs) {
        if self.links.coherent || attrs.intersects(NO_CPU_SYNC) || dir == DataDirection::ToDevice {
            return;
        }
        let bits = self.links.bits();
        for i in first..=last {
            if !bitmap::get(bits, i).0 || self.links.bounce_at(i).is_some() {
                continue;
            }
            let phys = self.links.domain().iova_to_phys(self.iova(i));
            // SAFETY: `phys` is the granule of memory the link mapped.
            unsafe {
                bindings::arch_sync_dma_for_cpu(phys, self.links.granule() as usize, dir.as_raw())
            };
        }
    }

    /// Unmaps each run of linked granules of `first..=last` into `gather`,
    /// one IOMMU call a run; returns whether the IOMMU removed them all.
    fn unmap_runs(&self, first: usize, last: usize, mut gather: Pin<&mut Gather<'_>>) -> bool {
        let bits = self.links.bits();
        // One IOTLB sync for all the runs, holes or not.
        gather.as_mut().cover(
            self.iova(first) as usize,
            (self.iova(last + 1) - 1) as usize,
        );
        let mut ok = true;
        let mut at = first;
        while at <= last {
            let start = bitmap::next(bits, at, last + 1, LINKED, true);
            if start > last {
                break;
            }
            let stop = bitmap::next(bits, start, last + 1, LINKED, false);
            let len = self.len(start, stop - 1);
            // SAFETY: The run is linked throughout (the record's invariant)
            // and the reservation's; it holds no hole.
            let done = unsafe {
                self.links
                    .domain()
                    .unmap(self.iova(start) as usize, len, gather.as_mut())
            };
            ok &= done >= len;
            at = stop;
        }
        ok
    }
}

/// A part of a cut link that an unlink maps again: granules
/// `first..=last` at `phys`, or, when `phys` is [`BOUNCED`], the live bounce
/// node of `first`.
/// The `phys` of a [`Piece`] that maps a bounce buffer: no granule starts
/// there.
const BOUNCED: u64 = u64::MAX;

#[derive(Clone, Copy)]
struct Piece {
    first: usize,
    last: usize,
    phys: u64,
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
    // INVARIANT: The caller's pointer is valid.
    let mut st = State(state);
    st.clear();

    if size == 0 || size as u64 & FLAGS != 0 {
        return false;
    }
    // SAFETY: `dev` is valid and bound, by the function's contract.
    let Some(t) = (unsafe { Target::of(dev) }) else {
        return false;
    };
    let off = phys & (t.granule - 1);
    let Some(len) = (size as u64 + off).checked_add(t.granule - 1) else {
        return false;
    };
    let len = len & !(t.granule - 1);
    let Some(links) = Links::alloc(&t, (len / t.granule) as usize) else {
        return false;
    };
    // SAFETY: `domain` is the DMA domain of `dev`; `len` is whole granules.
    let iova = unsafe { bindings::iommu_dma_iova_alloc(dev, t.domain.as_raw(), len as usize) };
    if iova == 0 {
        // SAFETY: Just allocated, not shared.
        unsafe { Links::free(links) };
        return false;
    }
    // SAFETY: The caller owns `*state`.
    unsafe {
        *state = bindings::dma_iova_state {
            addr: iova + off,
            __size: size as u64,
            __links: links.as_ptr().cast(),
        }
    };
    debug::add(links, dev, iova + off, size as u64);
    true
}

/// Releases a reservation; see `include/linux/dma-mapping.h`.
///
/// Anything still linked is unlinked first, with a warning.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`]; the device no longer uses the reservation.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_free(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
) {
    // SAFETY: By the function's contract.
    unsafe {
        teardown(
            dev,
            state,
            DataDirection::Bidirectional,
            Attrs::SKIP_CPU_SYNC,
            None,
        )
    };
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
    let mut attrs = Attrs::from_raw(attrs);
    // An unknown direction copies nothing back.
    let dir = DataDirection::try_from(dir).unwrap_or_else(|_| {
        attrs |= Attrs::SKIP_CPU_SYNC;
        DataDirection::Bidirectional
    });
    // The record says what is linked: all of it goes, whatever
    // `mapped_len` says, so that nothing can stay mapped.
    // SAFETY: By the function's contract.
    unsafe { teardown(dev, state, dir, attrs, Some(mapped_len)) };
}

/// Reports links of `st` past `mapped_len`, which upstream's
/// `dma_iova_destroy()` would leave mapped; this one unlinks them too.
#[cold]
fn check_mapped_len(dev: *mut bindings::device, st: &State, links: &Links, mapped_len: usize) {
    let from = match st.span(links, 0, mapped_len) {
        Ok((_, last)) => last + 1,
        Err(_) if mapped_len == 0 => 0,
        // Past the reservation: nothing can lie beyond it.
        Err(_) => return,
    };
    if bitmap::next(links.bits(), from, links.granules, LINKED, true) < links.granules {
        debug::report(
            dev,
            c_str!("dma_iova_destroy: links past mapped_len %#llx of %#llx\n"),
            mapped_len as u64,
            st.reserved(),
        );
    }
}

/// Tears down a reservation: every run of linked granules is unmapped, with
/// one IOTLB flush, deferred to the flush queue with the IOVA in lazy mode;
/// bounced granules are copied back and released once the IOTLB is synced;
/// then the IOVA and the record are freed. The state ends zeroed.
/// `mapped_len` is `dma_iova_destroy()`'s, or `None` for `dma_iova_free()`,
/// which warns about links it finds.
///
/// # Safety
///
/// As for [`dma_iova_destroy`].
unsafe fn teardown(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    dir: DataDirection,
    attrs: Attrs,
    mapped_len: Option<usize>,
) {
    // INVARIANT: The caller's pointer is valid.
    let mut st = State(state);
    let warn_linked = mapped_len.is_none();
    let op = if warn_linked {
        c_str!("dma_iova_free")
    } else {
        c_str!("dma_iova_destroy")
    };
    // A state whose record is gone is only cleared.
    if !debug::check(dev, &st, op) {
        st.clear();
        return;
    }
    if let Some(links) = st.links() {
        if let (true, Some(len)) = (debug::ON, mapped_len) {
            check_mapped_len(dev, &st, links, len);
        }
        let cx = Ctx {
            dev,
            links,
            base: st.base(links),
        };
        let last = links.granules - 1;
        let linked = bitmap::next(links.bits(), 0, links.granules, LINKED, true) <= last;
        if linked && warn_linked {
            misuse(
                &FREED_LINKED,
                dev,
                c_str!("dma_iova_free: [%#llx, +%#llx) still had links: unlinked\n"),
                st.addr(),
                st.reserved(),
            );
        }
        let swiotlb = st.flags() & USE_SWIOTLB != 0;
        let domain = links.domain();
        let iova = cx.base;
        let len = cx.len(0, last);
        // Bounce buffers are released only after a synchronous flush.
        Gather::with(domain, links.lazy && !swiotlb && linked, |mut gather| {
            cx.sync_for_cpu(0, last, dir, attrs);
            let kept = !cx.unmap_runs(0, last, gather.as_mut());
            if linked && (kept || !gather.is_queued()) {
                gather.as_mut().sync();
            }
            // SAFETY: Everything is unmapped and the IOTLB synced, unless
            // the gather is queued, which it is not with bounced granules.
            unsafe { cx.unbounce(0, last, dir, attrs) };
            if kept || st.flags() & KEEP_IOVA != 0 {
                // Part of a mapping is still there: reusing the IOVA would
                // map over it, so it is leaked.
                misuse(
                    &KEPT,
                    dev,
                    c_str!("dma_iova: the IOMMU kept part of [%#llx, +%#llx): IOVA leaked\n"),
                    iova,
                    len as u64,
                );
                return;
            }
            let queued = if gather.is_queued() {
                gather.as_raw()
            } else {
                ptr::null_mut()
            };
            // SAFETY: This is the IOVA `dma_iova_try_alloc()` allocated in
            // this domain, with its size; `queued` is null or the queued
            // gather of its unmap.
            unsafe { bindings::iommu_dma_iova_free(domain.as_raw(), iova, len, queued) };
        });
        debug::del(links);
        // SAFETY: The record is the state's, which is zeroed below.
        unsafe { Links::free(NonNull::from(links)) };
    }
    st.clear();
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
#[inline]
unsafe fn link(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    phys: bindings::phys_addr_t,
    offset: usize,
    size: usize,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) -> Result {
    // INVARIANT: The caller's pointer is valid.
    let st = State(state);
    if !debug::check(dev, &st, c_str!("dma_iova_link")) {
        return Err(EINVAL);
    }
    let dir = DataDirection::try_from(dir)?;
    let attrs = Attrs::from_raw(attrs);
    let links = st.links().ok_or(EINVAL)?;
    let g = links.granule();
    if (size as u64 == g) & (phys & (g - 1) == 0) {
        // SAFETY: Forwarded from the caller.
        return unsafe { link_granule(dev, &st, links, phys, offset, dir, attrs) };
    }
    let (first, last) = st.span(links, offset, size)?;
    let size = size as u64;
    let end_phys = phys.checked_add(size).ok_or(EOVERFLOW)?;
    // Checked by `span()`: in the reservation.
    let iova = st.addr().wrapping_add(offset as u64);

    // Only the first link may start inside a granule, at the offset the
    // reservation was made for.
    let pad = phys & (g - 1);
    if (iova & (g - 1) != pad) | ((pad != 0) & (offset != 0)) {
        return Err(EINVAL);
    }
    if attrs.contains(Attrs::REQUIRE_COHERENT) {
        require_coherent(dev, &st, links)?;
    }
    // Only a partial granule may bounce: the cheap test first.
    let bounce = (pad != 0 || end_phys & (g - 1) != 0)
        // SAFETY: `dev` is valid.
        && unsafe { bindings::iommu_dma_iova_use_swiotlb(dev, size as usize, dir.as_raw()) };
    // MMIO has no bounce buffer, and a coherent mapping cannot use one.
    if bounce && attrs.intersects(Attrs::MMIO | Attrs::REQUIRE_COHERENT) {
        return Err(EPERM);
    }
    // Granules are linked once; claiming them first also keeps concurrent
    // links of one state apart.
    if !bitmap::claim(links.bits(), first, last) {
        overlap(dev, offset, size);
        return Err(EBUSY);
    }
    let cx = Ctx {
        dev,
        links,
        base: st.base(links),
    };
    let ret = if bounce {
        // SAFETY: The granules are the caller's, just claimed, and
        // unmapped; the caller lets the device access the memory.
        unsafe { link_bounced(&cx, &st, first, phys, end_phys, pad, dir, attrs) }
    } else {
        // In the reservation (`span()`), so this does not wrap.
        let len = size.wrapping_add(pad + g - 1) & !(g - 1);
        // SAFETY: As above.
        unsafe { cx.map(cx.iova(first), phys - pad, len, dir, attrs) }
    };
    if ret.is_err() {
        bitmap::clear(links.bits(), first, last);
    }
    ret
}

/// Reports a link over linked granules, under DMA-API debugging.
#[inline(always)]
fn overlap(dev: *mut bindings::device, offset: usize, size: u64) {
    debug::report(
        dev,
        c_str!("dma_iova_link: [%#llx, +%#llx) overlaps a link\n"),
        offset as u64,
        size,
    );
}

/// What [`Attrs::REQUIRE_COHERENT`] asks before a link: a device that
/// needs no cache maintenance, and a state none of whose links bounced
/// (their teardown would copy, which the caller ruled out).
#[inline(always)]
fn require_coherent(dev: *mut bindings::device, st: &State, links: &Links) -> Result {
    if !links.coherent {
        return Err(EOPNOTSUPP);
    }
    if st.flags() & USE_SWIOTLB != 0 {
        // A driver mixing the two in one state, as upstream warns too.
        warn_once(
            &MIXED_COHERENT,
            dev,
            c_str!("dma_iova_link: DMA_ATTR_REQUIRE_COHERENT in a bounced state %#llx, +%#llx\n"),
            st.addr(),
            st.reserved(),
        );
        return Err(EOPNOTSUPP);
    }
    Ok(())
}

/// The common link, and the fast path: one whole granule of memory at a
/// granule of the reservation. It never bounces (only partial granules do)
/// and is one granule of the bitmap and one IOMMU map.
///
/// # Safety
///
/// As for [`dma_iova_link`], with `links` the record of `st`.
#[inline(always)]
unsafe fn link_granule(
    dev: *mut bindings::device,
    st: &State,
    links: &Links,
    phys: u64,
    offset: usize,
    dir: DataDirection,
    attrs: Attrs,
) -> Result {
    let g = links.granule();
    // As `State::span()` checks, for one granule.
    let (end, wraps) = (offset as u64).overflowing_add(g);
    if wraps {
        return Err(EOVERFLOW);
    }
    if end > st.reserved() {
        return Err(EINVAL);
    }
    phys.checked_add(g).ok_or(EOVERFLOW)?;
    // In the reservation, checked above: no wrapping.
    let iova = st.addr().wrapping_add(offset as u64);
    // A whole granule of memory goes at a whole granule of IOVA.
    if iova & (g - 1) != 0 {
        return Err(EINVAL);
    }
    if attrs.contains(Attrs::REQUIRE_COHERENT) {
        require_coherent(dev, st, links)?;
    }
    let i = iova.wrapping_sub(st.base(links)).wrapping_shr(links.shift) as usize;
    if !bitmap::claim_one(links.bits(), i) {
        overlap(dev, offset, g);
        return Err(EBUSY);
    }
    let coherent = links.coherent;
    if !coherent && !attrs.intersects(NO_CPU_SYNC) {
        // SAFETY: `[phys, phys + g)` is memory the caller maps.
        unsafe { bindings::arch_sync_dma_for_device(phys, g as usize, dir.as_raw()) };
    }
    let prot = Prot::for_dma(dir, coherent, attrs);
    // SAFETY: The granule is the caller's, just claimed, and unmapped, and
    // both addresses are aligned to it; the caller lets the device access
    // the memory.
    let ret = unsafe {
        links
            .domain()
            .map_granule(iova as usize, phys, prot, GFP_ATOMIC)
    };
    if ret.is_err() {
        bitmap::clear_one(links.bits(), i);
    }
    ret
}

/// Maps `[phys, end_phys)` at granule `first` (plus `pad`) for a device
/// that bounces partial granules: the head and tail granule through
/// swiotlb, the middle directly.
///
/// # Safety
///
/// As for [`Ctx::map`], for the claimed granules of the link.
#[cold]
#[expect(clippy::too_many_arguments, reason = "the link's parameters, checked")]
unsafe fn link_bounced(
    cx: &Ctx<'_>,
    st: &State,
    first: usize,
    phys: u64,
    end_phys: u64,
    pad: u64,
    dir: DataDirection,
    attrs: Attrs,
) -> Result {
    let g = cx.links.granule();
    let size = end_phys - phys;
    let iova = cx.iova(first);
    // Bounce the partial head and tail granules; map the middle directly.
    let head = if pad != 0 { size.min(g - pad) } else { 0 };
    let tail = if head < size { end_phys & (g - 1) } else { 0 };
    let middle = size - head - tail;
    let mut nodes: [Option<KBox<Bounce>>; 2] = [None, None];
    let mut done = 0;
    let mut step = || -> Result {
        if head != 0 {
            // SAFETY: By the function's contract, for the first granule.
            nodes[0] = Some(unsafe { cx.bounce(first, phys - pad, pad, head, dir, attrs) }?);
            done = g;
        }
        if middle != 0 {
            // SAFETY: As above; the middle is whole granules.
            unsafe { cx.map(iova + done, phys + head, middle, dir, attrs) }?;
            done += middle;
        }
        if tail != 0 {
            let granule = first + (done / g) as usize;
            let at = phys + head + middle;
            // SAFETY: As above, for the last granule.
            let node = unsafe { cx.bounce(granule, at, 0, tail, dir, attrs) }?;
            nodes[1] = Some(node);
        }
        Ok(())
    };
    let ret = step();
    if ret.is_err() {
        // Each step undoes itself; undo the steps before the failing one.
        if done != 0 {
            Gather::with(cx.links.domain(), false, |mut gather| {
                // SAFETY: `[iova, iova + done)` is what the steps mapped.
                unsafe {
                    cx.links
                        .domain()
                        .unmap(iova as usize, done as usize, gather.as_mut())
                };
                gather.sync();
            });
        }
        if let Some(b) = &nodes[0] {
            // SAFETY: Unmapped and synced just above.
            unsafe { cx.release(b.tlb, b.off + b.len, dir, attrs) };
        }
        return ret;
    }
    for node in nodes.into_iter().flatten() {
        cx.links.push(node);
    }
    st.set_flag(USE_SWIOTLB);
    Ok(())
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
    // INVARIANT: The caller's pointer is valid.
    let st = State(state);
    if !debug::check(dev, &st, c_str!("dma_iova_sync")) {
        return EINVAL.to_errno();
    }
    let Some(links) = st.links() else {
        return EINVAL.to_errno();
    };
    let (first, last) = match st.span(links, offset, size) {
        Ok(span) => span,
        Err(e) => return e.to_errno(),
    };
    let base = st.base(links);
    let iova = base + ((first as u64) << links.shift);
    let len = ((last - first + 1) as u64) << links.shift;
    match links.domain().sync_map(iova as usize, len as usize) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// Unmaps part of a reservation; see `include/linux/dma-mapping.h`.
///
/// # Safety
///
/// As for [`dma_iova_try_alloc`]; the device no longer uses the range, nor
/// the links the range cuts.
#[no_mangle]
pub unsafe extern "C" fn dma_iova_unlink(
    dev: *mut bindings::device,
    state: *mut bindings::dma_iova_state,
    offset: usize,
    size: usize,
    dir: bindings::dma_data_direction,
    attrs: c_ulong,
) {
    // INVARIANT: The caller's pointer is valid.
    let st = State(state);
    if !debug::check(dev, &st, c_str!("dma_iova_unlink")) {
        return;
    }
    let checked = st.links().and_then(|links| {
        let span = st.span(links, offset, size).ok()?;
        Some((links, span, DataDirection::try_from(dir).ok()?))
    });
    let Some((links, (first, last), dir)) = checked else {
        misuse(
            &BAD_UNLINK,
            dev,
            c_str!("dma_iova_unlink: bad range [%#llx, +%#llx), direction or state\n"),
            offset as u64,
            size as u64,
        );
        return;
    };
    let attrs = Attrs::from_raw(attrs);
    let cx = Ctx {
        dev,
        links,
        base: st.base(links),
    };
    let bits = links.bits();
    if bitmap::next(bits, first, last + 1, LINKED, false) <= last {
        misuse(
            &UNLINKED,
            dev,
            c_str!("dma_iova_unlink: part of [%#llx, +%#llx) was not linked\n"),
            offset as u64,
            size as u64,
        );
    }

    // A link the range cuts is unmapped whole, and its parts outside the
    // range are mapped again: `lo..=hi` is what goes. Granule `i` continues
    // the link before it when it is linked and no link starts there.
    let cut = |i: usize| i < links.granules && bitmap::get(bits, i) == (true, false);
    let (head_cut, tail_cut) = (cut(first), cut(last + 1));
    let lo = if head_cut {
        bitmap::prev_start(bits, first).unwrap_or(0)
    } else {
        first
    };
    let hi = if tail_cut {
        // The link ends before the next start or unlinked granule.
        bitmap::unit_end(bits, last + 2, links.granules) - 1
    } else {
        last
    };
    let mut pieces: [Option<Piece>; 6] = [None; 6];
    if head_cut {
        cx.remainder(lo, first - 1, &mut pieces[..3]);
    }
    if tail_cut {
        cx.remainder(last + 1, hi, &mut pieces[3..]);
    }

    if tail_cut {
        // What is left of the link after the range is a link of its own.
        bitmap::set(bits, last + 1, last + 1, START);
    }
    // Cut links are mapped again before the one IOTLB sync, which covers
    // `lo..=hi`: until it returns, the device may still see the old
    // translations, which the caller does not use.
    let (kept, failed) = Gather::with(links.domain(), false, |mut gather| {
        cx.sync_for_cpu(first, last, dir, attrs);
        let kept = !cx.unmap_runs(lo, hi, gather.as_mut());
        // SAFETY: The pieces were linked by the caller, who still lets the
        // device reach them, and are unmapped now.
        let failed = unsafe { cx.remap(&pieces, dir, attrs) };
        gather.sync();
        (kept, failed)
    });
    if kept {
        st.set_flag(KEEP_IOVA);
    }
    // SAFETY: The range and the pieces that failed to map again are
    // unmapped, and the IOTLB synced.
    unsafe {
        cx.unbounce(first, last, dir, attrs);
        for p in failed.iter().flatten() {
            cx.unbounce(p.first, p.last, dir, attrs);
        }
    }
    bitmap::clear(bits, first, last);
}

impl Ctx<'_> {
    /// Records how to map again the granules `first..=last` of a cut link,
    /// before it is unmapped: a bounced granule at either end maps its
    /// bounce buffer, the rest the link's contiguous memory, found with one
    /// lookup.
    fn remainder(&self, mut first: usize, mut last: usize, out: &mut [Option<Piece>]) {
        let domain = self.links.domain();
        if self.links.bounce_at(first).is_some() {
            out[0] = Some(Piece {
                first,
                last: first,
                phys: BOUNCED,
            });
            first += 1;
        }
        if first <= last && self.links.bounce_at(last).is_some() {
            out[2] = Some(Piece {
                first: last,
                last,
                phys: BOUNCED,
            });
            last -= 1;
        }
        if first <= last {
            out[1] = Some(Piece {
                first,
                last,
                phys: domain.iova_to_phys(self.iova(first)),
            });
        }
    }

    /// Maps the pieces of cut links again. A piece that fails to map is
    /// unlinked instead, and returned, for its bounce buffer to be released
    /// once the IOTLB is synced: the device faults on it rather than
    /// reaching anything stale.
    ///
    /// # Safety
    ///
    /// The pieces are linked memory the device may reach, unmapped now.
    unsafe fn remap(
        &self,
        pieces: &[Option<Piece>; 6],
        dir: DataDirection,
        attrs: Attrs,
    ) -> [Option<Piece>; 6] {
        let mut failed = [None; 6];
        for (i, p) in pieces.iter().enumerate() {
            let Some(p) = p else { continue };
            // A bounced piece maps its bounce buffer; one that has none (it
            // cannot happen: the node was live when the piece was made) is
            // not mapped at all.
            let phys = match p.phys {
                BOUNCED => self.links.bounce_at(p.first).map(|b| b.tlb),
                phys => Some(phys),
            };
            let len = self.len(p.first, p.last) as u64;
            // The memory was synced for the device when it was linked.
            let attrs = attrs | Attrs::SKIP_CPU_SYNC;
            if let Some(phys) = phys {
                // SAFETY: By the function's contract.
                if unsafe { self.map(self.iova(p.first), phys, len, dir, attrs) }.is_ok() {
                    continue;
                }
            }
            misuse(
                &KEPT,
                self.dev,
                c_str!("dma_iova_unlink: could not map the rest of a cut link at %#llx, +%#llx\n"),
                self.iova(p.first),
                len,
            );
            bitmap::clear(self.links.bits(), p.first, p.last);
            failed[i] = Some(*p);
        }
        failed
    }
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
