// SPDX-License-Identifier: GPL-2.0

//! KUnit: the safe Rust DMA API on QEMU's edu device, in three suites.
//!
//! - `dma_rust`: `kernel::dma`, the two-step types and the page-list mapper
//!   (`dma_rust_kunit/dma_rust.rs`);
//! - `hmm_dma`: `kernel::hmm::DmaMap` and `Mirror`, the DMA mappings of a
//!   mirrored range (`dma_rust_kunit/hmm_dma.rs`);
//! - `hmm_p2p`: P2PDMA pages of an NVMe memory buffer, in the P2P boots
//!   (`dma_rust_kunit/hmm_p2p.rs`).
//!
//! This file holds what they share: the edu fixture of edu.h, page and
//! device-probe helpers, and the fault-injection sweep. On edu behind the
//! boot's IOMMU, every mapping is checked with the Rust IOMMU view's
//! `iova_to_phys()` and by device DMA.

use core::ffi::{c_int, c_uint, c_void};
use kernel::{
    bindings, c_str,
    device::{Bound, Device},
    dma::{self, iova::Reservation, pages::MappedPages, Attrs, CoherentAllocation, DataDirection},
    dma_read, dma_write,
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
    fn edu_swap_domain(kind: *const kernel::ffi::c_char) -> c_int;
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

/// `dev`, known to be bound.
fn bound(dev: &Device) -> &Device<Bound> {
    // SAFETY: The devices these tests map for stay bound while they map:
    // edu to the suite's driver until the suite ends (the tests that unbind
    // it do not call this meanwhile), a KUnit device to its driver until the
    // test ends.
    unsafe { dev.as_bound() }
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

/// A test device without IOMMU.
fn plain_device(
    t: &Test,
    name: &'static CStr,
) -> core::result::Result<ARef<Device>, kernel::kunit::Stop> {
    let dev = t.device(name);
    t.ensure(dev.is_ok(), "a test device")?;
    Ok(dev.unwrap())
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
        let Ok(Some(r)) = Reservation::try_alloc(
            bound(dev),
            16 << 20,
            0,
            DataDirection::ToDevice,
            Attrs::empty(),
        ) else {
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
    let Ok(Some(mut iova)) = Reservation::try_alloc(
        bound(dev),
        PAGE_SIZE,
        0,
        DataDirection::ToDevice,
        Attrs::empty(),
    ) else {
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

/// Rebinds edu with a new default domain of its group, of type `kind`.
fn swap_domain(t: &Test, kind: &CStr) -> Outcome {
    // SAFETY: The suite's driver is bound; the helper binds it again.
    let ret = unsafe { edu_swap_domain(kind.as_char_ptr()) };
    t.ensure(ret == 0, "edu bound again with another domain")
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

#[path = "dma_rust_kunit/dma_rust.rs"]
mod dma_rust;

#[cfg(CONFIG_HMM_MIRROR)]
#[path = "dma_rust_kunit/hmm_dma.rs"]
mod hmm_dma;
