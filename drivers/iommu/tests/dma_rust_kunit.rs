// SPDX-License-Identifier: GPL-2.0

//! KUnit: the safe Rust DMA API, `kernel::dma`.
//!
//! On QEMU's edu device behind the boot's IOMMU, every link is checked with
//! the Rust IOMMU view's `iova_to_phys()` and by device DMA; on a test
//! device without IOMMU, the page-list mapper falls back to per-page
//! mappings.

use core::ffi::{c_int, c_uint, c_void};
use kernel::{
    bindings, c_str,
    device::Device,
    dma::{self, iova::Reservation, pages::MappedPages, Attrs, DataDirection},
    error::{code::*, Error},
    iommu::Domain,
    kunit::{Outcome, Test},
    page::{Page, PAGE_SIZE},
    prelude::*,
    types::ARef,
};

/// `struct edu_device` of edu.h.
#[repr(C)]
struct EduDevice {
    pdev: *mut c_void,
    dev: *mut c_void,
    mmio: *mut c_void,
}

// The fixture of edu.h; the suite is passed through as an opaque pointer.
extern "C" {
    fn edu_suite_init(suite: *mut c_void) -> c_int;
    fn edu_suite_exit(suite: *mut c_void);
    fn edu_bound() -> *mut EduDevice;
    fn edu_dma(
        edu: *mut EduDevice,
        addr: bindings::dma_addr_t,
        buf_off: usize,
        len: usize,
        dir: bindings::dma_data_direction,
    ) -> c_int;
    fn edu_expect_identity() -> bool;
}

const NPAGES: usize = 8;
const HALF: usize = PAGE_SIZE / 2;

/// The bound edu device, or skip.
fn edu(t: &Test) -> core::result::Result<(*mut EduDevice, ARef<Device>), kernel::kunit::Stop> {
    // SAFETY: The suite's `suite_init` bound the device, if there is one.
    let edu = unsafe { edu_bound() };
    if edu.is_null() {
        return Err(t.skip("no QEMU edu device (1234:11e8) on this machine"));
    }
    // SAFETY: `edu` is the bound device, which stays bound for the suite.
    Ok((edu, unsafe { Device::get_device((*edu).dev.cast()) }))
}

/// The edu device and its DMA domain, or skip when the boot does not
/// translate its DMA.
fn translated(
    t: &Test,
) -> core::result::Result<(*mut EduDevice, ARef<Device>), kernel::kunit::Stop> {
    let (edu, dev) = edu(t)?;
    // SAFETY: The device stays bound, in the same domain, for the suite.
    match unsafe { Domain::of_device(&dev) } {
        Some(domain) if domain.is_dma_api() => Ok((edu, dev)),
        _ => Err(t.skip("edu's DMA is not translated in this boot")),
    }
}

fn domain(dev: &Device) -> &Domain {
    // SAFETY: The device stays bound, in the same domain, for the suite;
    // `translated()` checked that it has one.
    unsafe { Domain::of_device(dev) }.expect("translated device")
}

fn pages(t: &Test, n: usize) -> core::result::Result<KVec<Page>, kernel::kunit::Stop> {
    let mut pages = KVec::new();
    for _ in 0..n {
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO);
        t.ensure(page.is_ok(), "a page")?;
        t.ensure(pages.push(page.unwrap(), GFP_KERNEL).is_ok(), "memory")?;
    }
    Ok(pages)
}

fn phys(page: &Page) -> u64 {
    // SAFETY: `page` is a valid page.
    unsafe { bindings::page_to_phys(page.as_ptr()) }
}

/// Checks that the IOMMU maps none of the `n` pages from `base`.
fn expect_unmapped(t: &Test, domain: &Domain, base: u64, n: usize) {
    for i in 0..n {
        t.expect_eq(
            domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
            0,
            "unmapped",
        );
    }
}

/// A page-sized buffer, off the kernel stack.
fn buffer(t: &Test) -> core::result::Result<KVec<u8>, kernel::kunit::Stop> {
    let buf = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL);
    t.ensure(buf.is_ok(), "memory")?;
    Ok(buf.unwrap())
}

fn fill(t: &Test, page: &Page, seed: u8) -> Outcome {
    let mut buf = buffer(t)?;
    for (i, b) in buf.iter_mut().enumerate() {
        *b = seed.wrapping_add((i * 13) as u8);
    }
    // SAFETY: `buf` is valid for reads of a page.
    let ret = unsafe { page.write_raw(buf.as_ptr(), 0, PAGE_SIZE) };
    t.ensure(ret.is_ok(), "page write")
}

fn same(t: &Test, a: &Page, b: &Page) -> core::result::Result<bool, kernel::kunit::Stop> {
    let mut x = buffer(t)?;
    let mut y = buffer(t)?;
    // SAFETY: The buffers are valid for writes of a page.
    let ok = unsafe {
        a.read_raw(x.as_mut_ptr(), 0, PAGE_SIZE).is_ok()
            && b.read_raw(y.as_mut_ptr(), 0, PAGE_SIZE).is_ok()
    };
    t.ensure(ok, "page read")?;
    Ok(x == y)
}

/// Has the device copy the page at DMA address `src` to `dst`.
fn device_copy(t: &Test, edu: *mut EduDevice, src: u64, dst: u64) -> Outcome {
    for off in [0, HALF] {
        // SAFETY: `edu` is the bound device; the addresses are mapped for it.
        let a = unsafe {
            edu_dma(
                edu,
                src + off as u64,
                0,
                HALF,
                DataDirection::ToDevice.as_raw(),
            )
        };
        // SAFETY: As above.
        let b = unsafe {
            edu_dma(
                edu,
                dst + off as u64,
                0,
                HALF,
                DataDirection::FromDevice.as_raw(),
            )
        };
        t.ensure(a == 0 && b == 0, "device transfers complete")?;
    }
    Ok(())
}

fn reservation_links_and_moves_data(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, NPAGES)?;
    fill(t, &pages[0], 0x33)?;
    let Ok(Some(mut iova)) = Reservation::try_alloc(
        &dev,
        NPAGES * PAGE_SIZE,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
    ) else {
        return t.ensure(false, "a reservation");
    };
    t.expect_eq(iova.granule(), PAGE_SIZE, "granule");
    for (i, page) in pages.iter().enumerate() {
        // SAFETY: The pages outlive the reservation, destroyed below.
        let ret = unsafe { iova.link_page(i * PAGE_SIZE, page) };
        t.ensure(ret.is_ok(), "link")?;
    }
    t.ensure(iova.sync_all().is_ok(), "sync")?;

    let base = iova.dma_address(0).unwrap_or(0);
    for (i, page) in pages.iter().enumerate() {
        t.expect_eq(
            domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64),
            phys(page),
            "granule",
        );
        t.expect(iova.is_linked(i * PAGE_SIZE), "linked");
    }
    // A word of bits here and one in the engine, for a few pages.
    t.expect_eq(iova.tracking_bytes(), 16, "tracking bytes");

    device_copy(t, edu, base, base + PAGE_SIZE as u64)?;
    t.expect(
        same(t, &pages[0], &pages[1])?,
        "the device copied page 0 to page 1",
    );

    iova.destroy();
    expect_unmapped(t, domain(&dev), base, NPAGES);
    // Nor does the device reach either end of the run.
    for i in [0, NPAGES - 1] {
        expect_cut_off(t, edu, base, i, &pages[i], "after the destroy")?;
    }
    Ok(())
}

fn teardown_with_holes(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, NPAGES)?;
    load_device(t, edu, &dev, &pages[7])?;
    let base;
    {
        let Ok(Some(mut iova)) = Reservation::try_alloc(
            &dev,
            NPAGES * PAGE_SIZE,
            0,
            DataDirection::FromDevice,
            Attrs::empty(),
        ) else {
            return t.ensure(false, "a reservation");
        };
        base = iova.dma_address(0).unwrap_or(0);
        // Pages 0, 2, 3, 5 and 6: holes at 1, 4 and 7.
        for i in [0, 2, 3, 5, 6] {
            // SAFETY: The pages outlive the reservation, dropped below.
            let ret = unsafe { iova.link_page(i * PAGE_SIZE, &pages[i]) };
            t.ensure(ret.is_ok(), "link")?;
        }
        t.ensure(iova.sync_all().is_ok(), "sync")?;
        // Unlink 3: a hole at the end of the run 2-3; and a range with no link.
        t.ensure(iova.unlink(3 * PAGE_SIZE, PAGE_SIZE).is_ok(), "unlink")?;
        t.ensure(
            iova.unlink(7 * PAGE_SIZE, PAGE_SIZE).is_ok(),
            "unlink of nothing",
        )?;
        for i in 0..NPAGES {
            let want = if [0, 2, 5, 6].contains(&i) {
                phys(&pages[i])
            } else {
                0
            };
            t.expect_eq(
                domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64),
                want,
                "granule",
            );
        }
        // The device agrees, at both edges of each hole.
        for i in [1, 3, 4, 7] {
            expect_cut_off(t, edu, base, i, &pages[i], "a hole")?;
        }
        // Dropped here, with holes.
    }
    expect_unmapped(t, domain(&dev), base, NPAGES);
    // Nor does the device reach the runs: pages 0, 2 and 5 here, 6 below.
    for i in [0, 2, 5] {
        expect_cut_off(t, edu, base, i, &pages[i], "after the drop")?;
    }
    // The device no longer reaches page 6.
    fill(t, &pages[6], 0x5a)?;
    fill(t, &pages[7], 0x5a)?;
    // SAFETY: `edu` is bound; the address is stale, which is what is tested.
    let ret = unsafe {
        edu_dma(
            edu,
            base + (6 * PAGE_SIZE) as u64,
            0,
            HALF,
            DataDirection::FromDevice.as_raw(),
        )
    };
    t.expect_eq(ret, 0, "transfer completes");
    t.expect(same(t, &pages[6], &pages[7])?, "page 6 untouched");
    Ok(())
}

fn reservation_rejects_bad_input(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, 2)?;
    load_device(t, edu, &dev, &pages[1])?;
    let size = 4 * PAGE_SIZE;
    let zero = Reservation::try_alloc(&dev, 0, 0, DataDirection::ToDevice, Attrs::empty());
    t.expect(matches!(zero, Err(e) if e == EINVAL), "EINVAL for size 0");
    let head = Reservation::try_alloc(
        &dev,
        size,
        PAGE_SIZE,
        DataDirection::ToDevice,
        Attrs::empty(),
    );
    t.expect(
        matches!(head, Err(e) if e == EINVAL),
        "EINVAL for a head past the granule",
    );
    // Both ways, so that the device's writes can tell what is mapped.
    let Ok(Some(mut iova)) =
        Reservation::try_alloc(&dev, size, 0, DataDirection::Bidirectional, Attrs::empty())
    else {
        return t.ensure(false, "a reservation");
    };
    let base = iova.dma_address(0).unwrap_or(0);
    let err = |r: Result| r.err();

    // SAFETY: The pages outlive the reservation, for every link below.
    let cases: [(Result, Error, &str); 9] = unsafe {
        [
            (iova.link_page(size, &pages[0]), EINVAL, "link past the end"),
            (
                iova.link_page(3 * PAGE_SIZE + 1, &pages[0]),
                EINVAL,
                "link across the end",
            ),
            (
                iova.link_page(PAGE_SIZE / 2, &pages[0]),
                EINVAL,
                "misaligned link",
            ),
            (
                iova.link_page_range(PAGE_SIZE, &pages[0], 0x100, 0x100),
                EINVAL,
                "mid-granule start",
            ),
            (
                iova.link_page_range(0, &pages[0], 0x100, 0x100),
                EINVAL,
                "offset unlike the reservation's",
            ),
            (
                iova.link_page_range(PAGE_SIZE, &pages[0], 0, 100),
                EINVAL,
                "mid-granule end, not last",
            ),
            (
                iova.link_page_range(0, &pages[0], 0, 0),
                EINVAL,
                "empty link",
            ),
            (
                iova.link_page_range(0, &pages[0], usize::MAX, 2),
                EOVERFLOW,
                "wrapping page range",
            ),
            (
                iova.link_phys(usize::MAX - 1, 0, PAGE_SIZE),
                EOVERFLOW,
                "wrapping offset",
            ),
        ]
    };
    for (ret, want, what) in cases {
        t.expect_eq(err(ret), Some(want), what);
    }
    t.expect_eq(err(iova.sync(size, 1)), Some(EINVAL), "sync past the end");
    t.expect_eq(err(iova.unlink(0, 0)), Some(EINVAL), "empty unlink");
    t.expect_eq(
        err(iova.unlink(PAGE_SIZE / 2, PAGE_SIZE)),
        Some(EINVAL),
        "unlink cutting a link",
    );
    for i in 0..4 {
        t.expect_eq(
            domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64),
            0,
            "nothing mapped",
        );
    }
    // Nor does the device reach the page at either end.
    for i in [0, 3] {
        expect_cut_off(t, edu, base, i, &pages[0], "after the refused links")?;
    }

    // A two-granule link unlinked by halves: the engine unmaps the link
    // and maps the half still linked again, since not every IOMMU can
    // split a mapping.
    // SAFETY: The link's second granule maps the page after `pages[1]`,
    // which is not ours, but the device runs no DMA while it is linked and
    // it is unlinked below.
    let two = unsafe { iova.link_phys(2 * PAGE_SIZE, phys(&pages[1]), 2 * PAGE_SIZE) };
    if t.expect(two.is_ok(), "a two-granule link") {
        let at = |i: usize| domain(&dev).iova_to_phys(base + (i * PAGE_SIZE) as u64);
        t.expect(
            iova.unlink(3 * PAGE_SIZE, PAGE_SIZE).is_ok(),
            "unlink half a link",
        );
        t.expect_eq(at(3), 0, "the unlinked half is unmapped");
        t.expect_eq(at(2), phys(&pages[1]), "the other half stays mapped");
        t.expect(!iova.is_linked(3 * PAGE_SIZE), "the half is unlinked");
        t.expect(iova.is_linked(2 * PAGE_SIZE), "the other half is linked");
        t.expect(
            iova.unlink(2 * PAGE_SIZE, PAGE_SIZE).is_ok(),
            "unlink the other half",
        );
        t.expect_eq(at(2), 0, "both halves unmapped");
        // The device is probed on the first half only: the second maps a
        // page that is not ours, which a stale mapping would let it write.
        expect_cut_off(t, edu, base, 2, &pages[1], "both halves unlinked")?;
    }
    // SAFETY: The pages outlive the reservation.
    let first = unsafe { iova.link_page(PAGE_SIZE, &pages[0]) };
    t.ensure(first.is_ok(), "link")?;
    // SAFETY: As above.
    let again = unsafe { iova.link_page(PAGE_SIZE, &pages[1]) };
    t.expect_eq(err(again), Some(EBUSY), "double link");
    t.expect_eq(
        domain(&dev).iova_to_phys(base + PAGE_SIZE as u64),
        phys(&pages[0]),
        "first link kept",
    );
    Ok(())
}

fn scope_tears_down(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let pages = pages(t, 2)?;
    fill(t, &pages[0], 0x4e)?;
    let base = Reservation::scope(
        &dev,
        2 * PAGE_SIZE,
        0,
        DataDirection::Bidirectional,
        Attrs::empty(),
        |iova| -> core::result::Result<u64, kernel::kunit::Stop> {
            for (i, page) in pages.iter().enumerate() {
                t.ensure(iova.link_page(i * PAGE_SIZE, page).is_ok(), "link")?;
            }
            t.ensure(iova.sync_all().is_ok(), "sync")?;
            let base = iova.dma_address(0).unwrap_or(0);
            t.expect_eq(domain(&dev).iova_to_phys(base), phys(&pages[0]), "linked");
            device_copy(t, edu, base, base + PAGE_SIZE as u64)?;
            Ok(base)
        },
    );
    let Ok(Some(Ok(base))) = base else {
        return t.ensure(false, "a scope that ran");
    };
    t.expect(
        same(t, &pages[0], &pages[1])?,
        "the device copied page 0 to page 1",
    );
    // The scope tore the reservation down.
    expect_unmapped(t, domain(&dev), base, 2);
    for (i, page) in pages.iter().enumerate() {
        expect_cut_off(t, edu, base, i, page, "after the scope")?;
    }
    Ok(())
}

fn mapper_moves_data(t: &Test) -> Outcome {
    let (edu, dev) = edu(t)?;
    let pages = pages(t, 2)?;
    fill(t, &pages[0], 0x7c)?;
    let mut addresses = [0u64; 2];
    let mapped = MappedPages::map(&dev, pages, DataDirection::Bidirectional, |i, a| {
        addresses[i] = a
    });
    t.ensure(mapped.is_ok(), "map")?;
    let mapped = mapped.unwrap();
    // SAFETY: Reads a boot parameter.
    let identity = unsafe { edu_expect_identity() };
    t.expect_eq(
        mapped.uses_iova(),
        !identity,
        "two-step path iff translated",
    );
    if mapped.uses_iova() {
        t.expect_eq(
            addresses[1],
            addresses[0] + PAGE_SIZE as u64,
            "contiguous addresses",
        );
        t.expect_eq(
            mapped.range().map(|r| r.1),
            Some(2 * PAGE_SIZE),
            "one range",
        );
    } else {
        t.expect_eq(mapped.range(), None, "no range");
    }
    device_copy(t, edu, addresses[0], addresses[1])?;
    // Unmapped, the pages come back.
    let pages = mapped.into_pages();
    t.expect(
        same(t, &pages[0], &pages[1])?,
        "the device copied page 0 to page 1",
    );
    Ok(())
}

/// A test device without IOMMU.
fn plain_device(
    t: &Test,
    name: &'static CStr,
) -> core::result::Result<ARef<Device>, kernel::kunit::Stop> {
    let dev = t.device(name);
    t.ensure(dev.is_ok(), "a test device")?;
    Ok(dev.unwrap())
}

fn mapper_falls_back_without_iommu(t: &Test) -> Outcome {
    let dev = plain_device(t, c_str!("dma-rust-plain"))?;
    t.expect_eq(
        dma::set_mask_and_coherent(&dev, 65).err(),
        Some(EINVAL),
        "65-bit mask",
    );
    t.ensure(dma::set_mask_and_coherent(&dev, 64).is_ok(), "64-bit mask")?;
    t.expect_eq(dma::mask(&dev), u64::MAX, "mask");

    let none = Reservation::try_alloc(&dev, PAGE_SIZE, 0, DataDirection::ToDevice, Attrs::empty());
    t.expect(matches!(none, Ok(None)), "no reservation without IOMMU");

    let pages = pages(t, 4)?;
    let mut addresses = [0u64; 4];
    let mapped = MappedPages::map(&dev, pages, DataDirection::ToDevice, |i, a| {
        addresses[i] = a
    });
    t.ensure(mapped.is_ok(), "map")?;
    let mapped = mapped.unwrap();
    t.expect(!mapped.uses_iova(), "per-page path");
    for (i, page) in mapped.pages().iter().enumerate() {
        // Without IOMMU or bouncing, the device sees physical addresses.
        t.expect_eq(addresses[i], phys(page), "physical address");
    }
    // A coherent device with a 64-bit mask and no IOMMU: dma-direct neither
    // bounces nor syncs for it, so nothing needs unmapping, but for DMA-API
    // debugging, which tracks every mapping.
    let need = cfg!(CONFIG_DMA_API_DEBUG);
    t.expect_eq(
        dma::need_unmap(&dev),
        need,
        "need_unmap() of a plain device",
    );
    let kept = if need { 4 * 8 } else { 0 };
    t.expect_eq(
        mapped.tracking_bytes(),
        kept,
        "addresses kept only when unmapping needs them",
    );
    Ok(())
}

// Fault injection, from edu.c.
extern "C" {
    fn edu_fail_every_allocation(test: *mut bindings::kunit) -> c_int;
    fn edu_fail_nth(n: c_uint) -> c_uint;
    fn edu_fail_map_nth(n: c_uint);
    fn edu_map_failures() -> c_uint;
    fn edu_count_syncs(domain: *mut c_void, on: bool);
}

/// An injection point, armed for one operation: the `n`-th allocation of
/// the current task (`fail_nth`), or the `n`-th IOMMU map call of edu's
/// domain.
struct Armed {
    by_map: bool,
    maps: c_uint,
}

impl Armed {
    fn new(by_map: bool, n: c_uint) -> Self {
        // SAFETY: Test helpers; the sweep interposes on the domain's ops.
        unsafe {
            let maps = edu_map_failures();
            if by_map {
                edu_fail_map_nth(n);
            } else {
                edu_fail_nth(n);
            }
            Self { by_map, maps }
        }
    }

    /// Disarms the point; returns whether the operation reached it.
    fn reached(self) -> bool {
        // SAFETY: As above.
        unsafe {
            if self.by_map {
                edu_fail_map_nth(0);
                edu_map_failures() != self.maps
            } else {
                edu_fail_nth(0) == 0
            }
        }
    }
}

/// Reserves 16 MiB ranges until the IOVA space runs out, after the flush
/// queue has handed back what it holds; returns how many fit.
fn reservations(t: &Test, dev: &ARef<Device>) -> core::result::Result<usize, kernel::kunit::Stop> {
    // SAFETY: Tests may sleep.
    unsafe { bindings::msleep(50) };
    let mut held = KVec::new();
    while held.len() < 64 {
        let Ok(Some(r)) =
            Reservation::try_alloc(dev, 16 << 20, 0, DataDirection::ToDevice, Attrs::empty())
        else {
            break;
        };
        t.ensure(held.push(r, GFP_KERNEL).is_ok(), "memory")?;
    }
    Ok(held.len())
}

/// Runs `body` with every allocation failable and the map calls of edu's
/// domain interposed, for sweeps; then checks that the IOVA allocator is
/// back at its baseline.
fn injecting(t: &Test, dev: &ARef<Device>, body: impl FnOnce() -> Outcome) -> Outcome {
    // SAFETY: `t` is the running test.
    let ret = unsafe { edu_fail_every_allocation(t.as_raw()) };
    t.ensure(ret == 0, "fault injection attributes in debugfs")?;
    let before = reservations(t, dev)?;
    let domain = domain(dev);
    // SAFETY: The ops are put back below, before the test ends.
    unsafe { edu_count_syncs(domain.as_raw().cast(), true) };
    let result = body();
    // SAFETY: As above.
    unsafe { edu_count_syncs(domain.as_raw().cast(), false) };
    result?;
    t.expect_eq(
        reservations(t, dev)?,
        before,
        "IOVA allocator at its baseline",
    );
    Ok(())
}

/// Whether a device write to `addr` lands in the first bytes of `page`.
fn device_reaches(
    t: &Test,
    edu: *mut EduDevice,
    addr: u64,
    page: &Page,
) -> core::result::Result<bool, kernel::kunit::Stop> {
    let mut buf = buffer(t)?;
    buf.fill(0x3c);
    // SAFETY: `buf` is valid for reads of a page.
    let ret = unsafe { page.write_raw(buf.as_ptr(), 0, 64) };
    t.ensure(ret.is_ok(), "page write")?;
    // SAFETY: `edu` is the bound device; a write the IOMMU blocks is lost.
    let ret = unsafe { edu_dma(edu, addr, 0, 64, DataDirection::FromDevice.as_raw()) };
    t.ensure(ret == 0, "device transfer completes")?;
    // SAFETY: `buf` is valid for writes of a page.
    let ret = unsafe { page.read_raw(buf.as_mut_ptr(), 0, 64) };
    t.ensure(ret.is_ok(), "page read")?;
    Ok(buf[..64].iter().any(|&b| b != 0x3c))
}

/// Checks that a device write to page `i` from `base` misses `page`, the
/// memory linked there (or that would have been); `what` names the check.
fn expect_cut_off(
    t: &Test,
    edu: *mut EduDevice,
    base: u64,
    i: usize,
    page: &Page,
    what: &str,
) -> Outcome {
    if device_reaches(t, edu, base + (i * PAGE_SIZE) as u64, page)? {
        t.fail(format_args!("{what}: the device reaches page {i}"));
    }
    Ok(())
}

/// Loads the device's buffer from `page`, filled for it, so that
/// [`device_reaches`] can tell the device's writes: not 0x3c.
fn load_device(t: &Test, edu: *mut EduDevice, dev: &ARef<Device>, page: &Page) -> Outcome {
    fill(t, page, 0x5d)?;
    let Ok(Some(mut iova)) =
        Reservation::try_alloc(dev, PAGE_SIZE, 0, DataDirection::ToDevice, Attrs::empty())
    else {
        return t.ensure(false, "a reservation");
    };
    // SAFETY: The page outlives the reservation, dropped on return.
    t.ensure(unsafe { iova.link_page(0, page) }.is_ok(), "link")?;
    t.ensure(iova.sync_all().is_ok(), "sync")?;
    let addr = iova.dma_address(0).unwrap_or(0);
    // SAFETY: `edu` is the bound device, and `addr` mapped for it.
    let ret = unsafe { edu_dma(edu, addr, 0, 64, DataDirection::ToDevice.as_raw()) };
    t.ensure(ret == 0, "device transfer completes")
}

/// Runs `op(n)` for n = 1, 2, ..., until a run does not reach its `n`-th
/// injection point; `op` arms it with [`Armed::new`] once set up, and
/// returns whether it reached it and whether it failed. Returns the points
/// reached and how many failed the operation.
fn sweep(
    t: &Test,
    mut op: impl FnMut(c_uint) -> core::result::Result<(bool, bool), kernel::kunit::Stop>,
) -> core::result::Result<(u32, u32), kernel::kunit::Stop> {
    let (mut reached, mut failed) = (0, 0);
    for n in 1..64 {
        let (hit, fail) = op(n)?;
        t.expect(hit || !fail, "no failure without an injected one");
        reached += u32::from(hit);
        failed += u32::from(fail);
        if !hit {
            return Ok((reached, failed));
        }
    }
    t.fail(format_args!("the operation never succeeded"));
    Ok((reached, failed))
}

/// fail_nth-style sweeps of the Rust types: each allocation the operation
/// makes, and each IOMMU map call, fails in turn. Each failure returns
/// `ENOMEM` and leaves nothing mapped, for the IOMMU and the device; the
/// IOVA allocator ends where it started; each operation reaches at least
/// one injection point.
fn fail_nth_sweep(t: &Test) -> Outcome {
    let (edu, dev) = translated(t)?;
    let domain = domain(&dev);
    let held = pages(t, 4)?;
    load_device(t, edu, &dev, &held[0])?;
    injecting(t, &dev, || {
        for by_map in [false, true] {
            let what = if by_map {
                "IOMMU map calls"
            } else {
                "allocations"
            };

            // Reservation::link_pages() of 4 pages into a reservation.
            let (reached, failed) = sweep(t, |n| {
                let Ok(Some(mut iova)) = Reservation::try_alloc(
                    &dev,
                    4 * PAGE_SIZE,
                    0,
                    DataDirection::Bidirectional,
                    Attrs::empty(),
                ) else {
                    return Err(t.skip("no reservation"));
                };
                let base = iova.dma_address(0).unwrap_or(0);
                let armed = Armed::new(by_map, n);
                // SAFETY: The pages outlive the reservation.
                let ret = unsafe { iova.link_pages(0, &held) };
                let hit = armed.reached();
                if ret.is_err() {
                    t.expect_eq(ret, Err(ENOMEM), "Reservation::link_pages() fails");
                    expect_unmapped(t, domain, base, 4);
                    for i in [0, 3] {
                        let at = base + (i * PAGE_SIZE) as u64;
                        t.expect(!device_reaches(t, edu, at, &held[i])?, "device cut off");
                    }
                }
                Ok((hit, ret.is_err()))
            })?;
            t.info(format_args!(
                "Reservation::link_pages: {reached} {what} ({failed} failed it)"
            ));
            // The IOMMU driver may allocate nothing: its page tables can be
            // there already.
            t.expect(reached > 0 || !by_map, "a map call reached");

            // MappedPages::map() of 4 pages it owns.
            let (reached, failed) = sweep(t, |n| {
                let mine = pages(t, 4)?;
                let armed = Armed::new(by_map, n);
                let ret = MappedPages::map(&dev, mine, DataDirection::Bidirectional, |_, _| ());
                let hit = armed.reached();
                if let Err(e) = &ret {
                    t.expect_eq(*e, ENOMEM, "MappedPages::map() fails");
                }
                Ok((hit, ret.is_err()))
            })?;
            t.info(format_args!(
                "MappedPages::map: {reached} {what} ({failed} failed it)"
            ));
            t.expect(reached > 0, "an injection point reached");
        }
        Ok(())
    })
}

/// # Safety
///
/// Called by KUnit with the suite that starts.
unsafe extern "C" fn suite_init(suite: *mut bindings::kunit_suite) -> c_int {
    // SAFETY: KUnit passes the suite that starts.
    unsafe { edu_suite_init(suite.cast()) }
}

/// # Safety
///
/// Called by KUnit with the suite that ends.
unsafe extern "C" fn suite_exit(suite: *mut bindings::kunit_suite) {
    // SAFETY: KUnit passes the suite that ends.
    unsafe { edu_suite_exit(suite.cast()) }
}

kernel::kunit_suite! {
    name: "dma_rust",
    init: Some(suite_init),
    exit: Some(suite_exit),
    cases: [
        reservation_links_and_moves_data,
        teardown_with_holes,
        reservation_rejects_bad_input,
        scope_tears_down,
        mapper_moves_data,
        mapper_falls_back_without_iommu,
        fail_nth_sweep,
    ],
}

/// For dma_bench.c: maps `n` pages for `dev` as [`MappedPages`] does on its
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
    // SAFETY: By the function's contract.
    let dev = unsafe { Device::get_device(dev) };
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
        match Reservation::try_alloc(&dev, size, 0, DataDirection::Bidirectional, Attrs::empty()) {
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

/// KUnit: `kernel::hmm::DmaMap`, the DMA mappings of a mirrored range.
///
/// Entries are set as `hmm_range_fault()` would set them, from kernel
/// pages, and checked in the IOMMU's page tables and by device DMA.
#[cfg(CONFIG_HMM_MIRROR)]
mod hmm_dma {
    use super::*;
    use kernel::{
        hmm::{DmaMap, Mirror, Pfn},
        kunit::Stop,
        page::PAGE_SHIFT,
        uaccess::UserSlice,
    };

    extern "C" {
        fn edu_syncs() -> core::ffi::c_uint;
        fn edu_syncs_reset();
        fn edu_expect_p2p_host_bridge() -> bool;
        fn edu_last_map_prot() -> c_int;
    }

    /// The entry `hmm_range_fault()` gives for a writable page.
    fn entry(page: &Page) -> Pfn {
        entry_pfn((phys(page) >> PAGE_SHIFT) as usize)
    }

    /// The entry `hmm_range_fault()` gives for a writable page frame.
    fn entry_pfn(pfn: usize) -> Pfn {
        Pfn::from_raw((1 << 63) | (1 << 62) | pfn)
    }

    /// Runs `f`, counting the IOTLB syncs of `domain` meanwhile.
    fn counted<R>(domain: &Domain, f: impl FnOnce() -> R) -> (R, core::ffi::c_uint) {
        // SAFETY: The domain's ops are not changed meanwhile.
        unsafe {
            edu_syncs_reset();
            edu_count_syncs(domain.as_raw().cast(), true);
        }
        let ret = f();
        // SAFETY: As above.
        let syncs = unsafe {
            edu_count_syncs(domain.as_raw().cast(), false);
            edu_syncs()
        };
        (ret, syncs)
    }

    fn new_map(t: &Test, dev: &ARef<Device>, n: usize) -> core::result::Result<DmaMap, Stop> {
        let map = DmaMap::new(dev, n, DataDirection::Bidirectional);
        t.ensure(map.is_ok(), "a map")?;
        Ok(map.unwrap())
    }

    fn entries_map_and_move_data(t: &Test) -> Outcome {
        let (edu, dev) = translated(t)?;
        let n = 8;
        let pages = pages(t, n)?;
        let mut map = new_map(t, &dev, n)?;
        t.ensure(map.uses_iova(), "one IOVA range behind the IOMMU")?;
        t.expect_eq(
            map.bytes_per_entry(),
            8,
            "bytes kept per entry: the PFN word",
        );
        let (base, size) = map.iova_range().unwrap_or((0, 0));
        t.expect_eq(size, n * PAGE_SIZE, "the range's size");
        for (i, page) in pages.iter().enumerate() {
            t.ensure(map.set_pfn(i, entry(page)).is_ok(), "an entry")?;
            fill(t, page, i as u8)?;
        }
        let domain = domain(&dev);
        for (i, page) in pages.iter().enumerate() {
            // SAFETY: The pages outlive the map.
            let addr = unsafe { map.map_pfn(i) };
            t.expect_eq(addr, Ok(base + (i * PAGE_SIZE) as u64), "entry address");
            t.expect_eq(
                domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
                phys(page),
                "IOMMU entry",
            );
            t.expect(map.pfn(i).is_some_and(Pfn::is_dma_mapped), "marked mapped");
        }
        // Mapping a mapped entry gives the same address, without a link.
        // SAFETY: As above.
        let again = unsafe { map.map_pfn(3) };
        t.expect_eq(again, Ok(base + 3 * PAGE_SIZE as u64), "map again");
        // The device moves page 2 to page 5 through the map.
        device_copy(
            t,
            edu,
            base + 2 * PAGE_SIZE as u64,
            base + 5 * PAGE_SIZE as u64,
        )?;
        t.expect(
            same(t, &pages[2], &pages[5])?,
            "the device copied page 2 to page 5",
        );
        t.expect(map.unmap_pfn(5), "unmap a mapped entry");
        t.expect(!map.unmap_pfn(5), "nothing to unmap the second time");
        t.expect_eq(
            domain.iova_to_phys(base + 5 * PAGE_SIZE as u64),
            0,
            "entry 5 unmapped",
        );
        expect_cut_off(t, edu, base, 5, &pages[5], "entry 5 unmapped")?;
        t.expect(
            map.pfn(5)
                .is_some_and(|p| !p.is_dma_mapped() && p.is_valid()),
            "entry 5 kept its page",
        );
        // Not mapped: out of range, no page, in error.
        // SAFETY: Nothing is mapped by these.
        unsafe {
            t.expect_eq(map.map_pfn(n), Err(EINVAL), "entry out of range");
            // A mapped entry keeps its page, and write access, until it is
            // unmapped.
            let read_only = Pfn::from_raw((1 << 63) | (phys(&pages[6]) >> PAGE_SHIFT) as usize);
            for (what, pfn) in [
                ("no page", Pfn::from_raw(0)),
                ("another page", entry(&pages[7])),
                ("the page, read-only", read_only),
            ] {
                t.expect_eq(map.set_pfn(6, pfn), Err(EBUSY), what);
            }
            t.expect(
                map.set_pfn(6, entry(&pages[6])).is_ok(),
                "the same entry again",
            );
            t.expect(map.pfn(6).is_some_and(Pfn::is_dma_mapped), "still mapped");
            t.expect(map.unmap_pfn(6), "unmap entry 6");
            t.ensure(map.set_pfn(6, Pfn::from_raw(0)).is_ok(), "an empty entry")?;
            t.expect_eq(map.map_pfn(6), Err(EINVAL), "an entry without a page");
            // A page the process may only read is not mapped for writes.
            t.ensure(map.set_pfn(6, read_only).is_ok(), "a read-only entry")?;
            t.expect_eq(
                map.map_pfn(6),
                Err(EPERM),
                "a read-only page, mapped both ways",
            );
            t.ensure(
                map.set_pfn(6, Pfn::from_raw(1 << 61)).is_ok(),
                "an entry in error",
            )?;
            t.expect_eq(map.map_pfn(6), Err(EFAULT), "an entry in error");
        }
        drop(map);
        expect_unmapped(t, domain, base, n);
        // Nor does the device reach the ends of the runs mapped at the drop.
        for i in [0, 4, 7] {
            expect_cut_off(t, edu, base, i, &pages[i], "after the drop")?;
        }
        Ok(())
    }

    /// Which entries of a map to map, by name.
    type Pattern = (&'static str, fn(usize) -> bool);

    fn holes_destroy_with_one_flush(t: &Test) -> Outcome {
        let (edu, dev) = translated(t)?;
        let n = 16;
        let pages = pages(t, n)?;
        let domain = domain(&dev);
        load_device(t, edu, &dev, &pages[0])?;
        // Its flush, in a lazy domain, must not fall in a count below.
        // SAFETY: Tests may sleep.
        unsafe { bindings::msleep(50) };
        let patterns: [Pattern; 5] = [
            ("all", |_| true),
            ("every other", |i| i % 2 == 0),
            ("one", |i| i == 7),
            ("all but one", |i| i != 0),
            ("none", |_| false),
        ];
        for (name, mapped) in patterns {
            let mut map = new_map(t, &dev, n)?;
            let (base, _) = map.iova_range().unwrap_or((0, 0));
            let mut runs = 0;
            for (i, page) in pages.iter().enumerate() {
                t.ensure(map.set_pfn(i, entry(page)).is_ok(), "an entry")?;
                if mapped(i) {
                    // SAFETY: The pages outlive the map.
                    t.ensure(unsafe { map.map_range(i, 1) } == Ok(1), "entry mapped")?;
                    runs += usize::from(i == 0 || !mapped(i - 1));
                }
            }
            let ((), syncs) = counted(domain, || {
                drop(map);
                // A lazy domain flushes from its flush queue, within 10 ms.
                // SAFETY: Tests may sleep.
                unsafe { bindings::msleep(50) };
            });
            t.info(format_args!(
                "{}: {} runs, {} IOTLB flushes",
                name, runs, syncs
            ));
            if runs > 0 {
                t.expect_eq(syncs, 1, "one IOTLB flush for all the runs");
            } else {
                t.expect(syncs <= 1, "at most the flush of the freed IOVA");
            }
            for i in 0..n {
                t.expect_eq(
                    domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
                    0,
                    "nothing left mapped",
                );
            }
            // Nor does the device reach the ends of the first two and the
            // last two runs: both sides of the holes between them.
            let end =
                |i: usize| mapped(i) && (i == 0 || !mapped(i - 1) || i + 1 == n || !mapped(i + 1));
            let ends = (0..n).filter(|&i| end(i)).count();
            for (k, i) in (0..n).filter(|&i| end(i)).enumerate() {
                if k < 2 || k + 2 >= ends {
                    expect_cut_off(t, edu, base, i, &pages[i], name)?;
                }
            }
        }
        Ok(())
    }

    fn direct_without_iommu(t: &Test) -> Outcome {
        let dev = plain_device(t, c_str!("hmm-dma-direct"))?;
        t.ensure(dma::set_mask_and_coherent(&dev, 64).is_ok(), "a DMA mask")?;
        let pages = pages(t, 2)?;
        let mut map = new_map(t, &dev, 2)?;
        t.expect(!map.uses_iova(), "page by page without IOMMU");
        // As for the mapper: only DMA-API debugging needs the addresses.
        let need = cfg!(CONFIG_DMA_API_DEBUG);
        t.expect_eq(
            dma::need_unmap(&dev),
            need,
            "need_unmap() of a plain device",
        );
        let kept = if need { 16 } else { 8 };
        t.expect_eq(map.bytes_per_entry(), kept, "bytes kept per entry");
        t.ensure(map.set_pfn(1, entry(&pages[1])).is_ok(), "an entry")?;
        // SAFETY: The pages outlive the map.
        let addr = unsafe { map.map_pfn(1) };
        t.expect_eq(addr, Ok(phys(&pages[1])), "the physical address");
        t.expect(map.unmap_pfn(1), "unmapped");
        Ok(())
    }

    /// A user mapping of `len` bytes for the test's own address space.
    fn user_memory(t: &Test, len: usize) -> core::result::Result<usize, Stop> {
        const PROT_READ: usize = 1;
        const PROT_WRITE: usize = 2;
        const MAP_PRIVATE: usize = 2;
        const MAP_ANONYMOUS: usize = 0x20;
        // SAFETY: The test is running; KUnit gives it an address space.
        let addr = unsafe {
            bindings::kunit_vm_mmap(
                t.as_raw(),
                core::ptr::null_mut(),
                0,
                len,
                PROT_READ | PROT_WRITE,
                MAP_ANONYMOUS | MAP_PRIVATE,
                0,
            )
        };
        t.ensure(addr != 0, "a user mapping")?;
        Ok(addr)
    }

    fn mirror_faults_and_invalidates(t: &Test) -> Outcome {
        let (edu, dev) = translated(t)?;
        let n = 8;
        let addr = user_memory(t, n * PAGE_SIZE)?;
        // The process's data, written as the process would.
        let mut data = KVec::from_elem(0u8, n * PAGE_SIZE, GFP_KERNEL).map_err(|_| Stop::Failed)?;
        for (i, b) in data.iter_mut().enumerate() {
            *b = (i / PAGE_SIZE * 31 + i * 7) as u8;
        }
        let wrote = UserSlice::new(addr, n * PAGE_SIZE)
            .writer()
            .write_slice(&data);
        t.ensure(wrote.is_ok(), "user data written")?;

        let mirror = KBox::pin_init(
            Mirror::of_current(&dev, addr, n, DataDirection::Bidirectional),
            GFP_KERNEL,
        );
        t.ensure(mirror.is_ok(), "a mirror")?;
        let mirror = mirror.unwrap();
        let domain = domain(&dev);
        let mapped = mirror.fault(0, n, true, |m| m.map_range(0, n));
        t.expect_eq(mapped, Ok(Ok(n)), "every page faulted and mapped");
        let checked = mirror.with(|m| {
            let (base, _) = m.iova_range().unwrap_or((0, 0));
            for i in 0..n {
                let pfn = m.pfn(i).unwrap_or(Pfn::from_raw(0));
                t.expect(pfn.is_valid() && pfn.is_writable(), "a writable page");
                t.expect_eq(
                    domain.iova_to_phys(base + (i * PAGE_SIZE) as u64),
                    pfn.phys(),
                    "the IOMMU maps the process's page",
                );
            }
            base
        });
        let Ok(base) = checked else {
            return t.ensure(false, "the map");
        };

        // The device copies page 1 of the process to its page 6.
        device_copy(t, edu, base + PAGE_SIZE as u64, base + 6 * PAGE_SIZE as u64)?;
        let mut back = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL).map_err(|_| Stop::Failed)?;
        let read = UserSlice::new(addr + 6 * PAGE_SIZE, PAGE_SIZE)
            .reader()
            .read_slice(&mut back);
        t.ensure(read.is_ok(), "user data read")?;
        t.expect(
            back[..] == data[PAGE_SIZE..2 * PAGE_SIZE],
            "the process sees the device's copy",
        );

        // munmap invalidates pages 2 and 3: unmapped and forgotten, with one
        // IOTLB flush for the two. (It frees them too: no device probe there.)
        // SAFETY: The range is the test's own mapping.
        let (ret, syncs) = counted(domain, || unsafe {
            bindings::vm_munmap(addr + 2 * PAGE_SIZE, 2 * PAGE_SIZE)
        });
        t.expect_eq(ret, 0, "munmap");
        t.expect_eq(syncs, 1, "one IOTLB flush for the invalidated run");
        let checked = mirror.with(|m| {
            for i in 0..n {
                let gone = i == 2 || i == 3;
                let pfn = m.pfn(i).unwrap_or(Pfn::from_raw(0));
                t.expect_eq(pfn.is_valid(), !gone, "entry valid unless unmapped");
                t.expect_eq(pfn.is_dma_mapped(), !gone, "entry mapped unless unmapped");
                let phys = domain.iova_to_phys(base + (i * PAGE_SIZE) as u64);
                t.expect_eq(phys == 0, gone, "IOMMU mapping unless unmapped");
            }
            // A hole cannot be faulted again.
            t.expect_eq(
                m.map_pfn(2),
                Err(EINVAL),
                "an invalidated entry is not mapped",
            );
        });
        t.ensure(checked.is_ok(), "the map after munmap")?;
        t.expect(
            mirror.fault(2, 1, false, |_| ()).is_err(),
            "no page at an unmapped address",
        );
        drop(mirror);
        expect_unmapped(t, domain, base, n);
        // Nor does the device reach the ends of the runs mapped at the drop.
        for i in [0, 1, 4, 7] {
            let at = base + (i * PAGE_SIZE) as u64;
            if device_reaches_user(t, edu, at, addr + i * PAGE_SIZE)? {
                t.fail(format_args!("after the drop: the device reaches page {i}"));
            }
        }
        Ok(())
    }

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
        // SAFETY: By the function's contract.
        let dev = unsafe { Device::get_device(dev) };
        let mut map = match DmaMap::new(&dev, n, DataDirection::Bidirectional) {
            Ok(map) => map,
            Err(err) => return err.to_errno(),
        };
        for i in 0..n {
            // SAFETY: By the function's contract `pages` holds `n` pages.
            let phys = unsafe { bindings::page_to_phys(*pages.add(i)) };
            let entry = entry_pfn((phys >> PAGE_SHIFT) as usize);
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

    /// P2PDMA on the P2P topology (x86_64_p2p.py): a page of an NVMe
    /// controller's memory buffer, as seen by an edu under the same switch
    /// and by an edu on the root complex.
    #[cfg(CONFIG_PCI_P2PDMA)]
    mod p2p {
        use super::*;
        use kernel::pci::p2pdma::{MapType, State};

        /// QEMU's NVMe controller.
        const NVME: (u32, u32) = (0x1b36, 0x0010);

        /// The edu devices and whether each is on the root bus.
        fn edus() -> KVec<(ARef<Device>, bool)> {
            let mut edus = KVec::new();
            let mut pdev = core::ptr::null_mut();
            loop {
                // SAFETY: `pdev` is null or the last device found, whose
                // reference the call drops.
                pdev = unsafe { bindings::pci_get_device(0x1234, 0x11e8, pdev) };
                if pdev.is_null() {
                    return edus;
                }
                // SAFETY: `pdev` is a valid PCI device, referenced.
                let (dev, root) = unsafe {
                    (
                        Device::get_device(core::ptr::addr_of_mut!((*pdev).dev)),
                        (*(*pdev).bus).number == 0,
                    )
                };
                let _ = edus.push((dev, root), GFP_KERNEL);
            }
        }

        fn map_types_and_bus_addresses(t: &Test) -> Outcome {
            // The NVMe driver probes asynchronously.
            // SAFETY: Waiting for probes has no precondition.
            unsafe { bindings::wait_for_device_probe() };
            // SAFETY: The reference is dropped below.
            let nvme = unsafe { bindings::pci_get_device(NVME.0, NVME.1, core::ptr::null_mut()) };
            if nvme.is_null() {
                return Err(t.skip("no NVMe controller (P2P memory provider) on this machine"));
            }
            // SAFETY: `nvme` is a referenced PCI device.
            let mem = unsafe { bindings::pci_alloc_p2pmem(nvme, PAGE_SIZE) };
            let outcome = if mem.is_null() {
                t.fail(format_args!("the NVMe CMB is not P2P memory"));
                Err(Stop::Failed)
            } else {
                // SAFETY: `mem` is P2P memory of `nvme`, a page.
                let (bus, phys) = unsafe {
                    (
                        bindings::pci_p2pmem_virt_to_bus(nvme, mem),
                        bindings::slow_virt_to_phys(mem),
                    )
                };
                let outcome = check_clients(t, bus, phys);
                // SAFETY: Allocated above; the maps are gone.
                unsafe { bindings::pci_free_p2pmem(nvme, mem, PAGE_SIZE) };
                outcome
            };
            // SAFETY: Referenced above.
            unsafe { bindings::pci_dev_put(nvme) };
            outcome
        }

        fn check_clients(t: &Test, bus: u64, phys: u64) -> Outcome {
            let pfn = (phys >> PAGE_SHIFT) as usize;
            let p2p_entry = entry_pfn(pfn);
            let edus = edus();
            t.expect_eq(
                edus.len(),
                2,
                "an edu on the root bus and one under the switch",
            );
            let (mut switch_seen, mut root_seen) = (false, false);
            for (dev, root) in edus.iter() {
                let mut state = State::new();
                // SAFETY: The P2P page is allocated until the end.
                let ty = unsafe { state.map_type(dev, pfn) };
                let mut map = new_map(t, dev, 2)?;
                t.ensure(map.set_pfn(0, p2p_entry).is_ok(), "a P2P entry")?;
                // SAFETY: As above.
                let addr = unsafe { map.map_pfn(0) };
                let got = map.pfn(0).unwrap_or(Pfn::from_raw(0));
                // SAFETY: Reads a module parameter.
                let host_bridge = unsafe { edu_expect_p2p_host_bridge() };
                if *root && host_bridge {
                    root_seen = true;
                    // An AMD Zen CPU's host bridge forwards P2P: mapped as
                    // usual, through the IOMMU.
                    t.expect_eq(ty, MapType::ThruHostBridge, "across the root complex");
                    t.expect(
                        got.is_dma_mapped() && got.is_p2pdma(),
                        "mapped through the host bridge",
                    );
                    t.expect(!got.is_p2pdma_bus(), "not by bus address");
                    // SAFETY: The device is bound (to the sample), in its
                    // domain.
                    let domain = unsafe { Domain::of_device(dev) };
                    let iova = addr.unwrap_or(0);
                    t.expect_eq(
                        domain.map(|d| d.iova_to_phys(iova)),
                        Some(phys),
                        "the IOMMU maps the P2P page",
                    );
                    t.expect(map.unmap_pfn(0), "unmapped");
                    // The IOMMU only: no edu handle here, and the page is the CMB's.
                    t.expect_eq(
                        domain.map(|d| d.iova_to_phys(iova)),
                        Some(0),
                        "and gone from the IOMMU",
                    );
                    // Mapped again, as the IOMMU driver sees it: MMIO,
                    // uncached (DMA_ATTR_MMIO).
                    let Some(d) = domain else {
                        return t.ensure(false, "a DMA domain");
                    };
                    let raw = d.as_raw().cast::<c_void>();
                    // SAFETY: Nothing else changes the domain's ops meanwhile.
                    unsafe { edu_count_syncs(raw, true) };
                    // SAFETY: As above for `map_pfn()`; reads a counter.
                    let (again, prot) = unsafe { (map.map_pfn(0), edu_last_map_prot()) };
                    // SAFETY: As above.
                    unsafe { edu_count_syncs(raw, false) };
                    t.expect(again.is_ok(), "mapped again");
                    t.expect_eq(
                        prot & (bindings::IOMMU_MMIO | bindings::IOMMU_CACHE) as c_int,
                        bindings::IOMMU_MMIO as c_int,
                        "as MMIO, uncached",
                    );
                    t.expect(map.unmap_pfn(0), "unmapped again");
                } else if *root {
                    root_seen = true;
                    // q35's host bridge is not on the P2PDMA whitelist.
                    t.expect_eq(ty, MapType::NotSupported, "across the root complex");
                    t.expect_eq(addr, Err(EREMOTEIO), "no mapping across the root complex");
                    t.expect(!got.is_dma_mapped(), "the entry is not mapped");
                } else {
                    switch_seen = true;
                    t.expect_eq(ty, MapType::BusAddr(bus), "under a common switch");
                    t.expect_eq(addr, Ok(bus), "the entry's address is the bus address");
                    t.expect(
                        got.is_dma_mapped() && got.is_p2pdma_bus(),
                        "mapped by bus address",
                    );
                    if let Some((base, _)) = map.iova_range() {
                        // SAFETY: The device is bound (to the sample), in
                        // its domain.
                        let domain = unsafe { Domain::of_device(dev) };
                        let iova = domain.map(|d| d.iova_to_phys(base));
                        t.expect_eq(iova, Some(0), "nothing in the IOMMU for a bus address");
                    }
                    t.expect(map.unmap_pfn(0), "unmapped");
                    // SAFETY: As above.
                    t.expect_eq(unsafe { map.map_pfn(0) }, Ok(bus), "mapped again");
                }
                // A page of RAM in the same map is mapped as usual.
                let page = pages(t, 1)?;
                t.ensure(map.set_pfn(1, entry(&page[0])).is_ok(), "a RAM entry")?;
                // SAFETY: `page` outlives the map, dropped first.
                let ram = unsafe { map.map_pfn(1) };
                t.expect(ram.is_ok() && ram != Ok(bus), "RAM mapped as usual");
                drop(map);
            }
            t.expect(switch_seen && root_seen, "both clients");
            Ok(())
        }

        kernel::kunit_suite! {
            name: "hmm_p2p",
            cases: [map_types_and_bus_addresses],
        }
    }

    /// The fail_nth-style sweep of `DmaMap::map_range()` (see
    /// `fail_nth_sweep`): each failure returns `ENOMEM` and leaves exactly
    /// the entries it marks mapped reachable, which the map's teardown
    /// removes; the IOVA allocator ends where it started.
    fn map_range_sweep(t: &Test) -> Outcome {
        let (edu, dev) = translated(t)?;
        let domain = domain(&dev);
        let held = pages(t, 4)?;
        injecting(t, &dev, || {
            for by_map in [false, true] {
                let what = if by_map {
                    "IOMMU map calls"
                } else {
                    "allocations"
                };
                let (reached, failed) = sweep(t, |n| {
                    let mut map = new_map(t, &dev, held.len())?;
                    let (base, _) = map.iova_range().unwrap_or((0, 0));
                    for (i, page) in held.iter().enumerate() {
                        t.ensure(map.set_pfn(i, entry(page)).is_ok(), "an entry")?;
                    }
                    let armed = Armed::new(by_map, n);
                    // SAFETY: The pages outlive the map.
                    let ret = unsafe { map.map_range(0, held.len()) };
                    let hit = armed.reached();
                    if let Err(e) = ret {
                        t.expect_eq(e, ENOMEM, "DmaMap::map_range() fails");
                        for (i, page) in held.iter().enumerate() {
                            let marked = map.pfn(i).is_some_and(Pfn::is_dma_mapped);
                            let at = base + (i * PAGE_SIZE) as u64;
                            t.expect_eq(
                                domain.iova_to_phys(at) != 0,
                                marked,
                                "an entry is mapped exactly when it is marked",
                            );
                            if !marked {
                                t.expect(!device_reaches(t, edu, at, page)?, "device cut off");
                            }
                        }
                    }
                    Ok((hit, ret.is_err()))
                })?;
                t.info(format_args!(
                    "DmaMap::map_range: {reached} {what} ({failed} failed it)"
                ));
                // The IOMMU driver may allocate nothing: its page tables
                // can be there already.
                t.expect(reached > 0 || !by_map, "a map call reached");
            }
            Ok(())
        })
    }

    /// Whether a device write to `addr` lands in the first bytes of the
    /// user page at `uaddr`.
    fn device_reaches_user(
        t: &Test,
        edu: *mut EduDevice,
        addr: u64,
        uaddr: usize,
    ) -> core::result::Result<bool, Stop> {
        let mut buf = [0x3cu8; 64];
        let wrote = UserSlice::new(uaddr, 64).writer().write_slice(&buf);
        t.ensure(wrote.is_ok(), "user page written")?;
        // SAFETY: `edu` is the bound device; a write the IOMMU blocks is lost.
        let ret = unsafe { edu_dma(edu, addr, 0, 64, DataDirection::FromDevice.as_raw()) };
        t.ensure(ret == 0, "device transfer completes")?;
        let read = UserSlice::new(uaddr, 64).reader().read_slice(&mut buf);
        t.ensure(read.is_ok(), "user page read")?;
        Ok(buf.iter().any(|&b| b != 0x3c))
    }

    /// The fail_nth-style sweep of `Mirror::fault()` with `map_range()` of
    /// fresh user memory, whose pages and page tables the fault allocates:
    /// each failure returns an error (`ENOMEM`, or `EFAULT` when the page
    /// fault itself failed) and leaves exactly the entries the map marks
    /// mapped reachable; the IOVA allocator ends where it started.
    fn mirror_fault_sweep(t: &Test) -> Outcome {
        let (edu, dev) = translated(t)?;
        let domain = domain(&dev);
        let n = 4;
        injecting(t, &dev, || {
            for by_map in [false, true] {
                let what = if by_map {
                    "IOMMU map calls"
                } else {
                    "allocations"
                };
                let (reached, failed) = sweep(t, |k| {
                    let addr = user_memory(t, n * PAGE_SIZE)?;
                    let mirror = KBox::pin_init(
                        Mirror::of_current(&dev, addr, n, DataDirection::Bidirectional),
                        GFP_KERNEL,
                    );
                    t.ensure(mirror.is_ok(), "a mirror")?;
                    let mirror = mirror.unwrap();
                    let armed = Armed::new(by_map, k);
                    let ret = mirror.fault(0, n, true, |m| m.map_range(0, n));
                    let hit = armed.reached();
                    let err = match ret {
                        Ok(Ok(_)) => return Ok((hit, false)),
                        Ok(Err(e)) | Err(e) => e,
                    };
                    t.expect(
                        err == ENOMEM || err == EFAULT,
                        "Mirror::fault() fails with ENOMEM or EFAULT",
                    );
                    // The entries not marked mapped, to probe.
                    let mut unmarked = [None; 4];
                    let checked = mirror.with(|m| {
                        let (base, _) = m.iova_range().unwrap_or((0, 0));
                        for (i, slot) in unmarked.iter_mut().enumerate() {
                            let marked = m.pfn(i).is_some_and(Pfn::is_dma_mapped);
                            let at = base + (i * PAGE_SIZE) as u64;
                            t.expect_eq(
                                domain.iova_to_phys(at) != 0,
                                marked,
                                "an entry is mapped exactly when it is marked",
                            );
                            if !marked {
                                *slot = Some(at);
                            }
                        }
                    });
                    t.ensure(checked.is_ok(), "the map")?;
                    for (i, at) in unmarked.iter().enumerate() {
                        if let Some(at) = *at {
                            let uaddr = addr + i * PAGE_SIZE;
                            t.expect(!device_reaches_user(t, edu, at, uaddr)?, "device cut off");
                        }
                    }
                    Ok((hit, true))
                })?;
                t.info(format_args!(
                    "Mirror::fault: {reached} {what} ({failed} failed it)"
                ));
                t.expect(reached > 0, "an injection point reached");
            }
            Ok(())
        })
    }

    /// Invalidations from another thread, from edu.c.
    #[repr(C)]
    struct EduStorm {
        _private: [u8; 0],
    }

    extern "C" {
        fn edu_storm_start(start: usize, pages: core::ffi::c_ulong) -> *mut EduStorm;
        fn edu_storm_stop(
            s: *mut EduStorm,
            unmaps: *mut core::ffi::c_ulong,
            discards: *mut core::ffi::c_ulong,
        ) -> c_int;
    }

    /// Stress: `Mirror::fault()` with `DmaMap::map_range()` of a user range
    /// for 3 s, while another thread unmaps its pages and maps new ones in
    /// their place, or discards them (`MADV_DONTNEED`): an unmap or a clear
    /// invalidation at any point of a fault or a map. (`mprotect()` and a
    /// fork's COW have no kernel-thread equivalent: they are not among
    /// them.) A fault may fail (`EFAULT` in the gap of a munmap, `EBUSY`
    /// when invalidations keep racing it), never otherwise. At the end every entry the map marks
    /// mapped reaches the process's page now at its address (a device
    /// write the process reads back), so no entry kept a page the process
    /// lost; the drop leaves nothing reachable.
    fn map_range_races_invalidations(t: &Test) -> Outcome {
        let (edu, dev) = translated(t)?;
        let n = 16;
        let addr = user_memory(t, n * PAGE_SIZE)?;
        let mirror = KBox::pin_init(
            Mirror::of_current(&dev, addr, n, DataDirection::Bidirectional),
            GFP_KERNEL,
        );
        t.ensure(mirror.is_ok(), "a mirror")?;
        let mirror = mirror.unwrap();
        let domain = domain(&dev);
        let held = pages(t, 1)?;
        load_device(t, edu, &dev, &held[0])?;

        // SAFETY: `addr` is the test's own anonymous mapping of `n` pages.
        let storm = unsafe { edu_storm_start(addr, n as core::ffi::c_ulong) };
        // An `ERR_PTR()` is one of the last 4095 addresses.
        t.ensure((storm as usize) < 4095usize.wrapping_neg(), "a storm")?;
        let deadline = kernel::time::Ktime::ktime_get().to_ns() + 3_000_000_000;
        let (mut rounds, mut mapped, mut refused) = (0u64, 0u64, 0u64);
        while kernel::time::Ktime::ktime_get().to_ns() < deadline {
            match mirror.fault(0, n, true, |m| m.map_range(0, n)) {
                Ok(Ok(k)) => mapped += k as u64,
                // The map itself has no reason to fail.
                Ok(Err(e)) => {
                    t.fail(format_args!("map_range() failed: {e:?}"));
                    break;
                }
                Err(e) => {
                    refused += 1;
                    t.expect(e == EFAULT || e == EBUSY, "a fault fails only for the race");
                }
            }
            // Unmapped again, so that each round maps.
            let _ = mirror.with(|m| m.unmap_range(0, n));
            rounds += 1;
            // Let the storm run, on this CPU too.
            // SAFETY: Tests may sleep; the task is running.
            unsafe { bindings::schedule() };
        }
        let (mut unmaps, mut discards) = (0, 0);
        // SAFETY: `storm` came from `edu_storm_start()`.
        let err = unsafe { edu_storm_stop(storm, &mut unmaps, &mut discards) };
        t.expect_eq(err, 0, "the storm's munmap, mmap and madvise");
        t.info(format_args!(
            "{rounds} rounds ({} per second), {mapped} entries mapped, {refused} faults refused, \
             against {unmaps} unmaps and {discards} discards",
            rounds / 3
        ));
        t.expect(unmaps > 0 && discards > 0, "the storm invalidated");

        // Quiet now: one more round maps every entry, current.
        let last = mirror.fault(0, n, true, |m| m.map_range(0, n));
        t.expect(matches!(last, Ok(Ok(_))), "the last fault and map");
        let Ok(Some(base)) = mirror.with(|m| {
            (0..n)
                .all(|i| m.pfn(i).is_some_and(Pfn::is_dma_mapped))
                .then(|| m.iova_range().map_or(0, |r| r.0))
        }) else {
            return t.ensure(false, "every entry mapped");
        };
        for i in 0..n {
            let at = base + (i * PAGE_SIZE) as u64;
            t.expect(
                device_reaches_user(t, edu, at, addr + i * PAGE_SIZE)?,
                "the entry reaches the process's page",
            );
        }
        drop(mirror);
        for i in [0, n - 1] {
            let at = base + (i * PAGE_SIZE) as u64;
            t.expect_eq(domain.iova_to_phys(at), 0, "unmapped by the drop");
            t.expect(
                !device_reaches_user(t, edu, at, addr + i * PAGE_SIZE)?,
                "the device is cut off after the drop",
            );
        }
        Ok(())
    }

    kernel::kunit_suite! {
        name: "hmm_dma",
        init: Some(suite_init),
        exit: Some(suite_exit),
        cases: [
            entries_map_and_move_data,
            holes_destroy_with_one_flush,
            direct_without_iommu,
            mirror_faults_and_invalidates,
            map_range_sweep,
            mirror_fault_sweep,
            map_range_races_invalidations,
        ],
    }
}
