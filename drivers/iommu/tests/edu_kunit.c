// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the test machine itself.
 *
 * Every DMA test of this directory stands on these facts: QEMU's edu device
 * is bound, sits behind the IOMMU this boot was started with, in the domain
 * type the boot asked for, with the page sizes and DMA mask the engine's
 * tests assume; and its DMA goes through that IOMMU, so a removed mapping
 * stops it.
 */

#include <kunit/test.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/string.h>

#include "edu.h"

KUNIT_DEFINE_ACTION_WRAPPER(free_page_action, __free_page, struct page *);

static struct page *alloc_test_page(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_page_action, page));
	return page;
}

static void fill_pattern(void *buf, size_t len, u8 seed)
{
	u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = seed + i * 7 + (i >> 8);
}

static const char *domain_type_name(unsigned int type)
{
	switch (type) {
	case IOMMU_DOMAIN_BLOCKED:
		return "blocked";
	case IOMMU_DOMAIN_IDENTITY:
		return "identity";
	case IOMMU_DOMAIN_UNMANAGED:
		return "unmanaged";
	case IOMMU_DOMAIN_DMA:
		return "DMA";
	case IOMMU_DOMAIN_DMA_FQ:
		return "DMA-FQ";
	default:
		return "other";
	}
}

static void edu_is_bound(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);

	/* The liveness register answers with the complement of what it got. */
	iowrite32(0x12345678, edu->mmio + EDU_REG_LIVENESS);
	KUNIT_EXPECT_EQ(test, ioread32(edu->mmio + EDU_REG_LIVENESS), ~0x12345678U);
	KUNIT_EXPECT_EQ(test, ioread32(edu->mmio + EDU_REG_IDENT) & 0xff, 0xed);
	KUNIT_EXPECT_STREQ(test, edu->dev->driver->name, "iommu_edu_kunit");
	KUNIT_EXPECT_EQ(test, dma_get_mask(edu->dev), DMA_BIT_MASK(EDU_DMA_BITS));
	KUNIT_EXPECT_EQ(test, edu->dev->coherent_dma_mask, DMA_BIT_MASK(EDU_DMA_BITS));
}

static void edu_is_behind_expected_iommu(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct iommu_domain *domain = iommu_get_domain_for_dev(edu->dev);
	const char *want = edu_expected_iommu();
	const char *name = edu_iommu_name(edu->dev);

	KUNIT_ASSERT_NOT_NULL_MSG(test, name, "edu is not behind any IOMMU");
	KUNIT_ASSERT_NOT_NULL(test, domain);
	KUNIT_EXPECT_TRUE(test, device_iommu_mapped(edu->dev));
	kunit_info(test, "edu %s: IOMMU %s, %s domain\n", pci_name(edu->pdev),
		   name, domain_type_name(domain->type));

	if (want)
		KUNIT_EXPECT_TRUE_MSG(test, strstarts(name, want),
				      "IOMMU is %s, this boot expects %s", name, want);
	if (edu_expect_identity())
		KUNIT_EXPECT_EQ(test, domain->type, IOMMU_DOMAIN_IDENTITY);
	else
		KUNIT_EXPECT_TRUE_MSG(test, iommu_is_dma_domain(domain),
				      "domain type %#x is not a DMA domain", domain->type);
}

static void edu_domain_geometry(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct iommu_domain *domain = iommu_get_domain_for_dev(edu->dev);
	unsigned long granule;

	KUNIT_ASSERT_NOT_NULL(test, domain);
	if (!iommu_is_dma_domain(domain))
		kunit_skip(test, "edu is in a %s domain: nothing translates",
			   domain_type_name(domain->type));

	granule = 1UL << __ffs(domain->pgsize_bitmap);
	kunit_info(test, "page sizes %#lx, granule %lu, aperture [%pad, %pad]\n",
		   domain->pgsize_bitmap, granule,
		   &domain->geometry.aperture_start, &domain->geometry.aperture_end);

	KUNIT_EXPECT_EQ(test, granule, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, dma_get_merge_boundary(edu->dev), granule - 1);
	KUNIT_EXPECT_TRUE(test, domain->geometry.force_aperture);
	KUNIT_EXPECT_LE(test, domain->geometry.aperture_start, DMA_BIT_MASK(EDU_DMA_BITS));
}

/* Copy @src to @dst through the device, a half page at a time. */
static void edu_copy_page(struct kunit *test, struct edu_device *edu,
			  dma_addr_t src, dma_addr_t dst)
{
	size_t half = PAGE_SIZE / 2, off;

	for (off = 0; off < PAGE_SIZE; off += half) {
		KUNIT_ASSERT_EQ(test, 0, edu_dma(edu, src + off, 0, half, DMA_TO_DEVICE));
		KUNIT_ASSERT_EQ(test, 0, edu_dma(edu, dst + off, 0, half, DMA_FROM_DEVICE));
	}
}

static void edu_dma_round_trip(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct iommu_domain *domain = iommu_get_domain_for_dev(edu->dev);
	struct page *src = alloc_test_page(test), *dst = alloc_test_page(test);
	dma_addr_t src_dma, dst_dma;

	fill_pattern(page_address(src), PAGE_SIZE, 0x5a);
	src_dma = dma_map_page(edu->dev, src, 0, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(edu->dev, src_dma));
	dst_dma = dma_map_page(edu->dev, dst, 0, PAGE_SIZE, DMA_FROM_DEVICE);
	if (dma_mapping_error(edu->dev, dst_dma)) {
		dma_unmap_page(edu->dev, src_dma, PAGE_SIZE, DMA_TO_DEVICE);
		KUNIT_FAIL_AND_ABORT(test, "dma_map_page failed");
	}

	KUNIT_EXPECT_LE(test, src_dma + PAGE_SIZE - 1, DMA_BIT_MASK(EDU_DMA_BITS));
	KUNIT_EXPECT_LE(test, dst_dma + PAGE_SIZE - 1, DMA_BIT_MASK(EDU_DMA_BITS));
	if (domain && iommu_is_dma_domain(domain)) {
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, src_dma), page_to_phys(src));
		KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, dst_dma), page_to_phys(dst));
	}

	edu_copy_page(test, edu, src_dma, dst_dma);

	dma_unmap_page(edu->dev, dst_dma, PAGE_SIZE, DMA_FROM_DEVICE);
	dma_unmap_page(edu->dev, src_dma, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(src), page_address(dst), PAGE_SIZE));
}

/*
 * After the unmap the device must no longer reach the page: the IOMMU
 * blocks the write and the page keeps what the CPU put there.  In an
 * identity domain the stale address is the page's physical address and the
 * write lands, which the test checks too: it shows that the isolation tests
 * of the other suites can tell the two apart.
 */
static void edu_dma_blocked_after_unmap(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct page *src = alloc_test_page(test), *victim = alloc_test_page(test);
	u8 *expect = kunit_kzalloc(test, EDU_XFER_MAX, GFP_KERNEL);
	dma_addr_t src_dma, stale;
	size_t len = PAGE_SIZE / 2;

	KUNIT_ASSERT_NOT_NULL(test, expect);

	/* Load the device's buffer with a pattern. */
	fill_pattern(page_address(src), PAGE_SIZE, 0xa5);
	src_dma = dma_map_page(edu->dev, src, 0, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(edu->dev, src_dma));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, src_dma, 0, len, DMA_TO_DEVICE));
	dma_unmap_page(edu->dev, src_dma, PAGE_SIZE, DMA_TO_DEVICE);

	stale = dma_map_page(edu->dev, victim, 0, PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(edu->dev, stale));
	dma_unmap_page(edu->dev, stale, PAGE_SIZE, DMA_FROM_DEVICE);

	memset(page_address(victim), 0x3c, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, stale, 0, len, DMA_FROM_DEVICE));

	if (edu_expect_identity()) {
		KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(victim),
						page_address(src), len));
	} else {
		memset(expect, 0x3c, len);
		KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(victim), expect, len));
	}
}

static void edu_rejects_unsafe_transfers(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);

	/* None of these reach the device: QEMU would abort the VM. */
	KUNIT_EXPECT_EQ(test, -EINVAL, edu_dma(edu, 0, 0, 0, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, -EINVAL, edu_dma(edu, 0, 0, EDU_BUF_SIZE, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, -EINVAL, edu_dma(edu, 0, 1, EDU_XFER_MAX, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, -EINVAL, edu_dma(edu, 0, SIZE_MAX, 2, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, -EINVAL, edu_dma(edu, 0, 0, 16, DMA_BIDIRECTIONAL));
}

static struct kunit_case iommu_edu_cases[] = {
	KUNIT_CASE(edu_is_bound),
	KUNIT_CASE(edu_is_behind_expected_iommu),
	KUNIT_CASE(edu_domain_geometry),
	KUNIT_CASE(edu_rejects_unsafe_transfers),
	KUNIT_CASE_SLOW(edu_dma_round_trip),
	KUNIT_CASE_SLOW(edu_dma_blocked_after_unmap),
	{}
};

static struct kunit_suite iommu_edu_suite = {
	.name = "iommu_edu",
	.suite_init = edu_suite_init,
	.suite_exit = edu_suite_exit,
	.test_cases = iommu_edu_cases,
};

kunit_test_suite(iommu_edu_suite);

MODULE_DESCRIPTION("KUnit: QEMU's edu device behind an IOMMU, the DMA test machine");
MODULE_LICENSE("GPL");
