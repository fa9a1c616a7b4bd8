// SPDX-License-Identifier: GPL-2.0

//! KUnit: the DMA sample's rounds on the `edu` device it has bound.

use super::*;
use kernel::kunit::{Outcome, Stop, Test};

/// Runs `f` on the bound device; skips when the machine has no edu
/// device, fails when the sample did not bind it.
fn with_edu(t: &Test, f: impl FnOnce(&pci::Device<device::Bound>, &EduDma) -> Outcome) -> Outcome {
    if let Some(outcome) = pci::with_bound::<EduDma, _>(|pdev, edu| f(pdev, edu.get_ref())) {
        return outcome;
    }
    // SAFETY: The lookup takes a reference, which is dropped at once.
    let present = unsafe {
        let pdev = bindings::pci_get_device(0x1234, 0x11e8, core::ptr::null_mut());
        bindings::pci_dev_put(pdev);
        !pdev.is_null()
    };
    if present {
        t.fail(format_args!("edu (1234:11e8) is not bound to the sample"));
        return Err(Stop::Failed);
    }
    Err(t.skip("no QEMU edu device (1234:11e8) on this machine"))
}

/// Whether the boot translates the device's DMA.
fn translated(pdev: &pci::Device<device::Bound>) -> bool {
    // SAFETY: The device is bound, which keeps its domain, while the
    // reference is used.
    unsafe { Domain::of_device(pdev.as_ref()) }.is_some_and(Domain::is_dma_api)
}

fn round_trip(t: &Test) -> Outcome {
    with_edu(t, |pdev, edu| {
        let pages = 3;
        let report = match edu.run(pdev.as_ref(), pages, DEFAULT_TIMEOUT_MS) {
            Ok(report) => report,
            Err(err) => {
                t.fail(format_args!("the round failed: {:?}", err));
                return Err(Stop::Failed);
            }
        };
        t.expect_eq(report.pages, pages, "pages per list");
        t.expect_eq(report.verified, 2 * pages * PAGE_SIZE, "bytes verified");
        let chunks = (pages * PAGE_SIZE).div_ceil(CHUNK);
        if translated(pdev) {
            t.expect(report.two_step, "the two-step path behind an IOMMU");
            t.expect_eq(report.segments, 3, "one range per list");
            t.expect_eq(
                report.transfers,
                4 * chunks + 1,
                "commands, one per chunk and way, and the stale write",
            );
            t.expect_eq(report.isolation, Isolation::Blocked, "the stale write");
            // SAFETY: As in `translated()`.
            let domain = unsafe { Domain::of_device(pdev.as_ref()) }.expect("a domain");
            for i in 0..pages {
                let iova = report.saved_at + (i * PAGE_SIZE) as u64;
                t.expect_eq(domain.iova_to_phys(iova), 0, "the saved pages unmapped");
            }
        } else {
            t.expect(!report.two_step, "page by page without IOMMU");
            t.expect(
                report.transfers >= 4 * chunks,
                "at least a command per chunk and way",
            );
            t.expect_eq(
                report.isolation,
                Isolation::NotTranslated,
                "the stale write",
            );
        }
        Ok(())
    })
}

fn timeout_is_an_error(t: &Test) -> Outcome {
    with_edu(t, |pdev, edu| {
        // A command takes 100 ms: 1 ms is too short.
        let err = edu.run(pdev.as_ref(), 1, 1).err();
        t.expect_eq(
            err,
            Some(ETIMEDOUT),
            "a command that does not finish in time",
        );
        // The device finished meanwhile and works again.
        let report = edu.run(pdev.as_ref(), 1, DEFAULT_TIMEOUT_MS);
        t.expect(report.is_ok(), "a round after the timeout");
        Ok(())
    })
}

fn bad_input(t: &Test) -> Outcome {
    t.expect_eq(
        parse_round(b"\n"),
        Ok((DEFAULT_PAGES, DEFAULT_TIMEOUT_MS)),
        "defaults",
    );
    t.expect_eq(parse_round(b"8 250\n"), Ok((8, 250)), "pages and timeout");
    for bad in [&b"x"[..], b"-1", b"1 2 3", b"\xff"] {
        t.expect_eq(parse_round(bad), Err(EINVAL), "a malformed request");
    }
    with_edu(t, |pdev, edu| {
        for (pages, timeout) in [
            (0, 100),
            (MAX_PAGES + 1, 100),
            (1, 0),
            (1, MAX_TIMEOUT_MS + 1),
            (1, u64::MAX),
        ] {
            t.expect_eq(
                edu.run(pdev.as_ref(), pages, timeout).err(),
                Some(EINVAL),
                "a refused round",
            );
        }
        Ok(())
    })
}

kernel::kunit_suite! {
    name: "rust_dma_edu",
    cases: [round_trip, timeout_is_an_error, bad_input],
}
