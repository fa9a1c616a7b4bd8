// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the two-step IOVA DMA API, called as a C driver calls it.
 *
 * On QEMU's edu device behind the boot's IOMMU, every mapping is checked
 * twice: in the IOMMU's page tables with iommu_iova_to_phys(), and by the
 * bytes the device moves, or does not move, through it.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/dma-iova-debug.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/string.h>
#include <linux/swiotlb.h>

#include "edu.h"

#define NPAGES		16
#define HEAD		0x180	/* in-page offset of a first link */
#define MAX_RESV	64

/* The device's side of the checks, defined further down. */
static void load_device(struct kunit *test, struct edu_device *edu, size_t len, u8 seed);
static bool device_reaches(struct kunit *test, struct edu_device *edu,
			   dma_addr_t dma, void *cpu, size_t len);

KUNIT_DEFINE_ACTION_WRAPPER(free_pages_action, __free_page, struct page *);

static void free_order1(void *page)
{
	__free_pages(page, 1);
}

static void free_order2(void *page)
{
	__free_pages(page, 2);
}

static void free_order3(void *page)
{
	__free_pages(page, 3);
}

static void free_order4(void *page)
{
	__free_pages(page, 4);
}

/* A page the test owns; it is freed when the test ends. */
static struct page *test_page(struct kunit *test)
{
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);

	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_pages_action, page));
	return page;
}

/* Pages with a gap between each two, so that no two are contiguous. */
static void scattered_pages(struct kunit *test, struct page **pages, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		pages[i] = alloc_pages(GFP_KERNEL | __GFP_ZERO, 1);
		KUNIT_ASSERT_NOT_NULL(test, pages[i]);
		KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order1, pages[i]));
	}
}

static void fill(void *buf, size_t len, u8 seed)
{
	u8 *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = seed + i * 13 + (i >> 9);
}

/* The edu device and its DMA domain; skips in an identity (passthrough) boot. */
static struct edu_device *translating_edu(struct kunit *test,
					  struct iommu_domain **domain)
{
	struct edu_device *edu = edu_get(test);

	*domain = iommu_get_domain_for_dev(edu->dev);
	if (!*domain || !iommu_is_dma_domain(*domain))
		kunit_skip(test, "edu's DMA is not translated in this boot");
	return edu;
}

/*
 * Misuse on purpose: under DMA-API debugging each of the next @n calls is
 * reported (and printed as expected, so that the boot's check of the log
 * ignores it); expect_reported() checks that all @n came. Without
 * debugging both do nothing.
 */
static void expect_reports(unsigned int n)
{
	dma_iova_debug_expect(n);
}

static void expect_reported(struct kunit *test, const char *what)
{
	KUNIT_EXPECT_EQ_MSG(test, 0, dma_iova_debug_unmet(), "reports missing: %s", what);
}

static bool state_is_zero(struct dma_iova_state *state)
{
	return !state->addr && !state->__size && !state->__links;
}

/* Count the granules of [iova, iova + len) the IOMMU maps. */
static int mapped_granules(struct iommu_domain *domain, dma_addr_t iova, size_t len)
{
	dma_addr_t a, end = iova + len;
	int n = 0;

	for (a = iova & PAGE_MASK; a < end; a += PAGE_SIZE)
		n += !!iommu_iova_to_phys(domain, a);
	return n;
}

/*
 * Reserve 16 MiB ranges until the device's IOVA space runs out; check that
 * the failing reservation leaves its state zeroed; release them all.
 * Return how many fit.
 */
static int count_reservations(struct kunit *test, struct device *dev)
{
	struct dma_iova_state *states;
	int n = 0, i;

	states = kunit_kcalloc(test, MAX_RESV, sizeof(*states), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, states);

	/* Let a flush queue hand back the IOVA it holds. */
	msleep(50);
	while (n < MAX_RESV) {
		memset(&states[n], 0xff, sizeof(states[n]));
		if (!dma_iova_try_alloc(dev, &states[n], 0, SZ_16M)) {
			KUNIT_EXPECT_TRUE(test, state_is_zero(&states[n]));
			break;
		}
		KUNIT_EXPECT_LE(test, states[n].addr + SZ_16M - 1, dma_get_mask(dev));
		n++;
	}
	for (i = 0; i < n; i++)
		dma_iova_free(dev, &states[i]);
	return n;
}

static void try_alloc_fits_mask(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct dma_iova_state state;
	phys_addr_t phys = page_to_phys(test_page(test)) + HEAD;

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, phys, 3 * PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, dma_use_iova(&state));
	KUNIT_EXPECT_EQ(test, dma_iova_size(&state), 3 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, state.addr & ~PAGE_MASK, HEAD);
	KUNIT_EXPECT_LE(test, state.addr + 3 * PAGE_SIZE - 1, DMA_BIT_MASK(EDU_DMA_BITS));
	/* A reservation maps nothing. */
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, state.addr, 3 * PAGE_SIZE));
	dma_iova_free(edu->dev, &state);
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
}

static void try_alloc_rejects(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct dma_iova_state state;

	memset(&state, 0xff, sizeof(state));
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(edu->dev, &state, 0, 0));
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));

	memset(&state, 0xff, sizeof(state));
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(edu->dev, &state, 0, SIZE_MAX));
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));

	/* More than the 28-bit mask can address. */
	memset(&state, 0xff, sizeof(state));
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(edu->dev, &state, 0, SZ_512M));
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
}

/* Runs in every boot: devices whose DMA the IOMMU does not translate. */
static void try_alloc_without_translation(struct kunit *test)
{
	struct device *dev = kunit_device_register(test, "dma-iova-plain");
	struct dma_iova_state state;

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	KUNIT_EXPECT_FALSE(test, device_iommu_mapped(dev));
	memset(&state, 0xff, sizeof(state));
	KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(dev, &state, 0, PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&state));

	if (edu_expect_identity()) {
		struct edu_device *edu = edu_get(test);

		memset(&state, 0xff, sizeof(state));
		KUNIT_EXPECT_FALSE(test, dma_iova_try_alloc(edu->dev, &state, 0, PAGE_SIZE));
		KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	}
}

static void try_alloc_exhausts(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	int n = count_reservations(test, edu->dev);

	/* 256 MiB below the mask, less what the domain reserves. */
	kunit_info(test, "%d reservations of 16 MiB fit\n", n);
	KUNIT_EXPECT_GE(test, n, 8);
	KUNIT_EXPECT_LE(test, n, 16);
	/* Released, they fit again. */
	KUNIT_EXPECT_EQ(test, n, count_reservations(test, edu->dev));
}

static void link_unlink_destroy(struct kunit *test)
{
	/* Pages on both sides of the hole's edges, and the runs' ends. */
	static const int edges[] = { 4, 5, 9, 10 };
	static const int ends[] = { 0, 4, 10, 15 };
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *pages[NPAGES];
	struct dma_iova_state state;
	size_t size = NPAGES * PAGE_SIZE - HEAD;
	dma_addr_t base;
	int i;

	scattered_pages(test, pages, NPAGES);
	load_device(test, edu, 64, 0x2d);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state,
						   page_to_phys(pages[0]) + HEAD, size));
	base = state.addr - HEAD;

	/* The first link starts inside its page; the others are whole pages. */
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(pages[0]) + HEAD,
					       0, PAGE_SIZE - HEAD, DMA_BIDIRECTIONAL, 0));
	for (i = 1; i < NPAGES; i++)
		KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(pages[i]),
						       i * PAGE_SIZE - HEAD, PAGE_SIZE,
						       DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, size));

	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, state.addr),
			page_to_phys(pages[0]) + HEAD);
	for (i = 0; i < NPAGES; i++)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, base + i * PAGE_SIZE),
				    page_to_phys(pages[i]), "granule %d", i);

	/* Unlink pages 5 to 9: they go, the others stay. */
	dma_iova_unlink(edu->dev, &state, 5 * PAGE_SIZE - HEAD, 5 * PAGE_SIZE,
			DMA_BIDIRECTIONAL, 0);
	for (i = 0; i < NPAGES; i++)
		KUNIT_EXPECT_EQ_MSG(test, iommu_iova_to_phys(domain, base + i * PAGE_SIZE),
				    i >= 5 && i < 10 ? 0 : page_to_phys(pages[i]),
				    "granule %d", i);
	/* The device agrees, on both sides of each edge of the hole. */
	for (i = 0; i < ARRAY_SIZE(edges); i++) {
		int p = edges[i];

		KUNIT_EXPECT_EQ_MSG(test, p < 5 || p >= 10,
				    device_reaches(test, edu, base + p * PAGE_SIZE,
						   page_address(pages[p]), 64),
				    "page %d", p);
	}

	/* Destroy across the hole: nothing may stay mapped. */
	dma_iova_destroy(edu->dev, &state, size, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, NPAGES * PAGE_SIZE));
	/* Nor does the device reach the ends of the runs (at HEAD, as page 0's link). */
	for (i = 0; i < ARRAY_SIZE(ends); i++) {
		int p = ends[i];

		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + p * PAGE_SIZE + HEAD,
							    page_address(pages[p]) + HEAD, 64),
				       "page %d", p);
	}
}

static void cycles_leave_allocator_unchanged(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *pages[4];
	struct dma_iova_state state;
	dma_addr_t last = 0;
	int before, i, j, err = 0;

	scattered_pages(test, pages, 4);
	load_device(test, edu, 64, 0x36);
	before = count_reservations(test, edu->dev);

	for (i = 0; i < 10000 && !err; i++) {
		if (!dma_iova_try_alloc(edu->dev, &state, 0, 4 * PAGE_SIZE)) {
			err = -ENOSPC;
			break;
		}
		for (j = 0; j < 4 && !err; j++)
			err = dma_iova_link(edu->dev, &state, page_to_phys(pages[j]),
					    j * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
		if (!err)
			err = dma_iova_sync(edu->dev, &state, 0, 4 * PAGE_SIZE);
		last = state.addr;
		dma_iova_destroy(edu->dev, &state, 4 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	}
	KUNIT_EXPECT_EQ_MSG(test, err, 0, "cycle %d", i);
	KUNIT_EXPECT_EQ(test, i, 10000);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, last, 4 * PAGE_SIZE));
	/* Nor does the device reach either end of the last cycle's links. */
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, last, page_address(pages[0]), 64),
			       "page 0");
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, last + 3 * PAGE_SIZE,
						    page_address(pages[3]), 64),
			       "page 3");
	KUNIT_EXPECT_EQ(test, before, count_reservations(test, edu->dev));
}

/* Copy a page through the device with two 2 KiB transfers. */
static int edu_copy(struct edu_device *edu, dma_addr_t src, dma_addr_t dst)
{
	size_t half = PAGE_SIZE / 2, off;
	int err = 0;

	for (off = 0; off < PAGE_SIZE && !err; off += half) {
		err = edu_dma(edu, src + off, 0, half, DMA_TO_DEVICE);
		if (!err)
			err = edu_dma(edu, dst + off, 0, half, DMA_FROM_DEVICE);
	}
	return err;
}

static void device_copies_through_links(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *src = test_page(test), *dst = test_page(test);
	struct dma_iova_state state;

	fill(page_address(src), PAGE_SIZE, 0x21);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 2 * PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(src), 0,
					       PAGE_SIZE, DMA_TO_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(dst), PAGE_SIZE,
					       PAGE_SIZE, DMA_FROM_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 2 * PAGE_SIZE));

	KUNIT_EXPECT_EQ(test, 0, edu_copy(edu, state.addr, state.addr + PAGE_SIZE));
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(src), page_address(dst), PAGE_SIZE));
}

/* Load the device's buffer with @len bytes of pattern @seed. */
static void load_device(struct kunit *test, struct edu_device *edu, size_t len, u8 seed)
{
	struct page *page = test_page(test);
	dma_addr_t dma;

	fill(page_address(page), len, seed);
	dma = dma_map_page(edu->dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(edu->dev, dma));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, dma, 0, len, DMA_TO_DEVICE));
	dma_unmap_page(edu->dev, dma, PAGE_SIZE, DMA_TO_DEVICE);
}

static bool all_bytes(const void *buf, size_t len, u8 val)
{
	return !memchr_inv(buf, val, len);
}

static void to_device_link_is_read_only(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *page = test_page(test);
	struct dma_iova_state state;
	size_t len = PAGE_SIZE / 2;

	memset(page_address(page), 0x11, PAGE_SIZE);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(page), 0,
					       PAGE_SIZE, DMA_TO_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, PAGE_SIZE));

	/* The device may read the page... */
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr, 0, len, DMA_TO_DEVICE));
	/* ...but its write is stopped. */
	load_device(test, edu, len, 0x42);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr, 0, len, DMA_FROM_DEVICE));
	dma_iova_destroy(edu->dev, &state, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_EXPECT_TRUE(test, all_bytes(page_address(page), PAGE_SIZE, 0x11));
}

/* Map @victim FROM_DEVICE, check the device writes it, then cut it off. */
static void isolation(struct kunit *test, bool destroy)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *victim = test_page(test), *other = test_page(test);
	struct dma_iova_state state;
	size_t len = PAGE_SIZE / 2;
	dma_addr_t stale;
	u8 *expect = kunit_kmalloc(test, len, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, expect);
	fill(expect, len, 0x67);
	load_device(test, edu, len, 0x67);

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 2 * PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(other), 0,
					       PAGE_SIZE, DMA_FROM_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(victim), PAGE_SIZE,
					       PAGE_SIZE, DMA_FROM_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 2 * PAGE_SIZE));
	stale = state.addr + PAGE_SIZE;

	/* Linked, the device reaches the page. */
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, stale, 0, len, DMA_FROM_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(victim), expect, len));

	if (destroy)
		dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_FROM_DEVICE, 0);
	else
		dma_iova_unlink(edu->dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_FROM_DEVICE, 0);

	/* Cut off, it does not. */
	memset(page_address(victim), 0x3c, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, stale, 0, len, DMA_FROM_DEVICE));
	KUNIT_EXPECT_TRUE(test, all_bytes(page_address(victim), PAGE_SIZE, 0x3c));
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(domain, stale));

	if (!destroy) {
		/* The rest of the reservation still works. */
		KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr, 0, len, DMA_FROM_DEVICE));
		KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(other), expect, len));
		dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_FROM_DEVICE, 0);
	}
}

static void unlink_cuts_device_off(struct kunit *test)
{
	isolation(test, false);
}

static void destroy_cuts_device_off(struct kunit *test)
{
	isolation(test, true);
}

static void bad_input_maps_nothing(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct device *dev = edu->dev;
	struct page *page = test_page(test);
	phys_addr_t phys = page_to_phys(page);
	struct dma_iova_state state, none = {};
	size_t size = 4 * PAGE_SIZE;
	dma_addr_t base;

	load_device(test, edu, 64, 0x47);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(dev, &state, phys, size));
	base = state.addr;

	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys, 0, 0,
						     DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys, size, PAGE_SIZE,
						     DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys, 3 * PAGE_SIZE,
						     2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EOVERFLOW, dma_iova_link(dev, &state, phys, SIZE_MAX - 16,
							PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EOVERFLOW, dma_iova_link(dev, &state, (phys_addr_t)-PAGE_SIZE,
							PAGE_SIZE, 2 * PAGE_SIZE,
							DMA_BIDIRECTIONAL, 0));
	/* Only a first link may start inside a granule, at the reserved offset. */
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys + HEAD, PAGE_SIZE,
						     PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys + HEAD, 0,
						     PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys, 0, PAGE_SIZE,
						     DMA_NONE, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &state, phys, 0, PAGE_SIZE, 42, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(dev, &none, phys, 0, PAGE_SIZE,
						     DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, size));
	/* Nor does the device reach the page at either end. */
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base, page_address(page), 64),
			       "page 0");
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + 3 * PAGE_SIZE,
						    page_address(page), 64),
			       "page 3");

	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_sync(dev, &state, 0, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_sync(dev, &state, PAGE_SIZE, size));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_sync(dev, &none, 0, PAGE_SIZE));

	/*
	 * Unlinking what was never linked, or twice, or out of range,
	 * changes nothing: three reports under DMA-API debugging.
	 */
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(dev, &state, phys, PAGE_SIZE, PAGE_SIZE,
					       DMA_BIDIRECTIONAL, 0));
	expect_reports(3);
	dma_iova_unlink(dev, &state, 2 * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, base + PAGE_SIZE), phys);
	dma_iova_unlink(dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_unlink(dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_unlink(dev, &state, size, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	expect_reported(test, "bad unlinks");
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, size));
	/* Nor does the device reach the unlinked page; nothing was linked elsewhere. */
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + PAGE_SIZE,
						    page_address(page), 64),
			       "page 1");

	dma_iova_destroy(dev, &state, size, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	/* A state without reservation is left alone; its unlink reports. */
	expect_reports(1);
	dma_iova_unlink(dev, &none, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	expect_reported(test, "unlink without reservation");
	dma_iova_destroy(dev, &none, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_free(dev, &none);
	KUNIT_EXPECT_TRUE(test, state_is_zero(&none));
}

/*
 * Fail each allocation a link makes in turn, with the fault injection of
 * the task, until the link makes no more: the link takes three IOMMU map
 * calls here (4, 8 and 16 KiB), so some failures come after a part of it
 * is mapped. Each failure must return -ENOMEM and leave nothing mapped,
 * for the IOMMU and for the device.
 */
static void link_failure_part_way(struct kunit *test)
{
#ifdef CONFIG_FAULT_INJECTION
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct dma_iova_state state;
	struct page *block;
	phys_addr_t phys;
	dma_addr_t base;
	int failures = 0, n, ret = -ENOMEM;
	unsigned int before;
	void *first, *last;

	block = alloc_pages(GFP_KERNEL | __GFP_ZERO, 3);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order3, block));
	phys = page_to_phys(block);
	first = page_address(block + 1);
	last = page_address(block + 7);
	load_device(test, edu, PAGE_SIZE / 2, 0x5d);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, phys, SZ_32K));
	/* Both ends 32 KiB aligned: pages of 4, 8 and 16 KiB from 4 KiB on. */
	KUNIT_ASSERT_EQ(test, state.addr & (SZ_32K - 1), 0);

	/* Until the n-th allocation is past the end of the link. */
	for (n = 1; n < 64; n++) {
		unsigned int left;

		current->fail_nth = n;
		ret = dma_iova_link(edu->dev, &state, phys + SZ_4K, SZ_4K, 7 * SZ_4K,
				    DMA_BIDIRECTIONAL, 0);
		left = current->fail_nth;
		current->fail_nth = 0;
		if (!ret) {
			/* Not reached, or a failure the IOMMU driver recovers from. */
			KUNIT_EXPECT_EQ(test, 7, mapped_granules(domain, state.addr, SZ_32K));
			if (left)
				break;
			dma_iova_unlink(edu->dev, &state, SZ_4K, 7 * SZ_4K, DMA_BIDIRECTIONAL, 0);
			continue;
		}
		failures++;
		KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
		KUNIT_EXPECT_EQ_MSG(test, 0, mapped_granules(domain, state.addr, SZ_32K),
				    "allocation %d failed", n);
		/* Part of the link may have been mapped: the device must reach neither end. */
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, state.addr + SZ_4K,
							    first, 64),
				       "allocation %d failed, page 1", n);
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, state.addr + 7 * SZ_4K,
							    last, 64),
				       "allocation %d failed, page 7", n);
	}
	kunit_info(test, "%d allocations of the link, %d of them fail it\n", n - 1, failures);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, 7, mapped_granules(domain, state.addr, SZ_32K));
	if (strstarts(edu_iommu_name(edu->dev) ?: "", "virtio_iommu"))
		KUNIT_EXPECT_GE(test, failures, 3);

	/*
	 * The IOMMU driver's map calls, failed in turn by the domain's ops,
	 * on every IOMMU: the n-th of the link's calls fails it, until the
	 * link makes fewer.
	 */
	dma_iova_unlink(edu->dev, &state, SZ_4K, 7 * SZ_4K, DMA_BIDIRECTIONAL, 0);
	before = edu_map_failures();
	failures = 0;
	edu_count_syncs(domain, true);
	for (n = 1; n < 16; n++) {
		edu_fail_map_nth(n);
		ret = dma_iova_link(edu->dev, &state, phys + SZ_4K, SZ_4K, 7 * SZ_4K,
				    DMA_BIDIRECTIONAL, 0);
		edu_fail_map_nth(0);
		if (!ret)
			break;
		failures++;
		KUNIT_EXPECT_EQ(test, ret, -ENOMEM);
		KUNIT_EXPECT_EQ_MSG(test, 0, mapped_granules(domain, state.addr, SZ_32K),
				    "map call %d failed", n);
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, state.addr + SZ_4K,
							    first, 64),
				       "map call %d failed, page 1", n);
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, state.addr + 7 * SZ_4K,
							    last, 64),
				       "map call %d failed, page 7", n);
	}
	edu_count_syncs(domain, false);
	kunit_info(test, "%d IOMMU map calls of the link, each failed in turn\n", failures);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_GE(test, failures, 1);
	KUNIT_EXPECT_EQ(test, failures, edu_map_failures() - before);
	KUNIT_EXPECT_EQ(test, 7, mapped_granules(domain, state.addr, SZ_32K));
	/* The destroy zeroes the state. */
	base = state.addr;
	dma_iova_destroy(edu->dev, &state, SZ_32K, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, SZ_32K));
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + SZ_4K, first, 64), "page 1");
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + 7 * SZ_4K, last, 64),
			       "page 7");
#else
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
#endif
}

static void restore_trust(void *pdev)
{
	((struct pci_dev *)pdev)->untrusted = 0;
}

/*
 * An untrusted device gets the partial head and tail granules of a link
 * bounced through swiotlb: it sees the caller's bytes and zeros around
 * them, never the neighbours in the same pages, and what it writes is
 * copied back to the caller's bytes only.
 */
static void untrusted_bounces_partial_granules(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *block, *out = test_page(test);
	const size_t off = 0x300, len = PAGE_SIZE + 1000;
	struct dma_iova_state state;
	dma_addr_t out_dma, base;
	u8 *buf, *expect;

	KUNIT_ASSERT_TRUE_MSG(test, is_swiotlb_active(edu->dev),
			      "no swiotlb pool: boot with memory above 4 GiB");
	block = alloc_pages(GFP_KERNEL, 1);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order1, block));
	buf = page_address(block);
	expect = kunit_kmalloc(test, 2 * PAGE_SIZE, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, expect);

	edu->pdev->untrusted = 1;
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, restore_trust, edu->pdev));

	/* The neighbours of the buffer are 0xee. */
	memset(buf, 0xee, 2 * PAGE_SIZE);
	fill(buf + off, len, 0x71);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state,
						   page_to_phys(block) + off, len));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(block) + off, 0, len,
					       DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, len));
	KUNIT_EXPECT_TRUE(test, state.__size & DMA_IOVA_USE_SWIOTLB);
	KUNIT_EXPECT_NOT_NULL(test, swiotlb_find_pool(edu->dev,
						      iommu_iova_to_phys(domain, state.addr)));

	/* The device reads the head granule: zeros, then the caller's bytes. */
	out_dma = dma_map_page(edu->dev, out, 0, PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(edu->dev, out_dma));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr - off, 0, 2048, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, out_dma, 0, 2048, DMA_FROM_DEVICE));
	KUNIT_EXPECT_TRUE(test, all_bytes(page_address(out), off, 0));
	KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(out) + off, buf + off, 2048 - off));
	/* And the tail granule: the caller's last bytes, then zeros. */
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr - off + PAGE_SIZE,
					 0, 2048, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, out_dma, 0, 2048, DMA_FROM_DEVICE));
	dma_unmap_page(edu->dev, out_dma, PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(out), buf + PAGE_SIZE, off + len - PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, all_bytes(page_address(out) + off + len - PAGE_SIZE,
					  2048 - (off + len - PAGE_SIZE), 0));

	/* The device writes the whole buffer; teardown copies it back. */
	load_device(test, edu, 2048, 0x19);
	fill(expect, 2 * PAGE_SIZE, 0x19);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr, 0, 2048, DMA_FROM_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr + 2048, 0, 2048, DMA_FROM_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr + 4096, 0, len - 4096, DMA_FROM_DEVICE));
	base = state.addr;
	dma_iova_destroy(edu->dev, &state, len, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 0, memcmp(buf + off, expect, 2048));
	KUNIT_EXPECT_EQ(test, 0, memcmp(buf + off + 2048, expect, 2048));
	KUNIT_EXPECT_EQ(test, 0, memcmp(buf + off + 4096, expect, len - 4096));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf, off, 0xee));
	KUNIT_EXPECT_TRUE(test, all_bytes(buf + off + len, 2 * PAGE_SIZE - off - len, 0xee));
	/* Both granules bounced: the device would reach swiotlb slots, not buf. */
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 2 * PAGE_SIZE));
}

/*
 * A 0x100-byte link at offset 0x300 of an untrusted device's page, in a
 * larger reservation: the device writes the whole bounce granule, and the
 * teardown of the whole reservation copies back the linked bytes only.
 */
static void bounce_copies_back_linked_bytes_only(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *page = test_page(test);
	const size_t off = 0x300, len = 0x100;
	struct dma_iova_state state;
	u8 *buf = page_address(page), *expect;

	KUNIT_ASSERT_TRUE_MSG(test, is_swiotlb_active(edu->dev),
			      "no swiotlb pool: boot with memory above 4 GiB");
	expect = kunit_kmalloc(test, 2048, GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, expect);
	edu->pdev->untrusted = 1;
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, restore_trust, edu->pdev));

	memset(buf, 0xee, PAGE_SIZE);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, page_to_phys(page) + off,
						   2 * PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(page) + off, 0,
					       len, DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, len));
	KUNIT_EXPECT_TRUE(test, state.__size & DMA_IOVA_USE_SWIOTLB);

	/* The device writes all of the bounce granule. */
	load_device(test, edu, 2048, 0x19);
	fill(expect, 2048, 0x19);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr - off, 0, 2048, DMA_FROM_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr - off + 2048, 0, 2047, DMA_FROM_DEVICE));
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);

	KUNIT_EXPECT_EQ(test, 0, memcmp(buf + off, expect + off, len));
	KUNIT_EXPECT_TRUE_MSG(test, all_bytes(buf, off, 0xee), "bytes before the link changed");
	KUNIT_EXPECT_TRUE_MSG(test, all_bytes(buf + off + len, PAGE_SIZE - off - len, 0xee),
			      "bytes after the link changed");
}

/* Whether a device write of @len bytes to @dma lands in @cpu (0x3c before). */
static bool device_reaches(struct kunit *test, struct edu_device *edu,
			   dma_addr_t dma, void *cpu, size_t len)
{
	memset(cpu, 0x3c, len);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, dma, 0, len, DMA_FROM_DEVICE));
	return !all_bytes(cpu, len, 0x3c);
}

static void stop_counting(void *domain)
{
	edu_count_syncs(domain, false);
}

#ifdef CONFIG_FAULT_INJECTION
/*
 * fail_nth-style sweeps: each operation runs again and again with its n-th
 * injection point failed, n = 1, 2, ..., until it reaches fewer than n.
 * The points are the allocations it makes, slab and page, with all of them
 * made failable (edu_fail_every_allocation()), and the IOMMU driver's map
 * calls (edu_fail_map_nth()).
 */
enum sweep_op { SWEEP_TRY_ALLOC, SWEEP_LINK };

struct sweep {
	const char *name;
	enum sweep_op op;
	size_t size;		/* of the reservation */
	size_t head;		/* in-page offset of the reservation and link */
	size_t off, len;	/* of the link in the reservation */
	bool untrusted;		/* bounce partial granules */
};

/* The link's memory: the 32 KiB block, at the link's offset modulo 32 KiB. */
#define SWEEP_MEM(off)	((off) & (SZ_32K - 1))

static const struct sweep sweeps[] = {
	{ "try_alloc", SWEEP_TRY_ALLOC, 8 * PAGE_SIZE, 0, 0, 0 },
	{ "link of one granule", SWEEP_LINK, 8 * PAGE_SIZE, 0, PAGE_SIZE, PAGE_SIZE },
	/*
	 * From 4 KiB in a 32 KiB aligned range (pages of 4, 8 and 16 KiB
	 * where the IOMMU has them), in the middle of 16 MiB of IOVA that
	 * nothing linked before: the IOMMU driver allocates page tables.
	 */
	{ "link of 7 granules", SWEEP_LINK, SZ_16M, 0, SZ_8M + PAGE_SIZE, 7 * PAGE_SIZE },
	/* A bounced head and tail granule around a direct one. */
	{ "bounced link", SWEEP_LINK, 4 * PAGE_SIZE, 0x300, 0, 2 * PAGE_SIZE + 1000, true },
};

struct sweep_count {
	unsigned int reached, failed;
};

/*
 * What a failed operation must leave: no granule of the reservation
 * mapped, for the IOMMU and, at both ends of the link and in its middle,
 * for the device.
 */
static void sweep_check_failed(struct kunit *test, struct edu_device *edu,
			       struct iommu_domain *domain, const struct sweep *w,
			       struct dma_iova_state *state, struct page *block,
			       unsigned int n)
{
	size_t at[3] = { w->off, w->off + w->len / 2, w->off + w->len - 1 };
	int i;

	KUNIT_EXPECT_EQ_MSG(test, 0, mapped_granules(domain, state->addr, w->size),
			    "%s: point %u", w->name, n);
	for (i = 0; i < ARRAY_SIZE(at); i++) {
		size_t g = (w->head + at[i]) >> PAGE_SHIFT;
		size_t p = SWEEP_MEM(w->head + at[i]) >> PAGE_SHIFT;
		dma_addr_t iova = (state->addr & PAGE_MASK) + g * PAGE_SIZE;

		/* A bounced granule maps a swiotlb slot: the IOMMU says enough. */
		if (w->untrusted && (i != 1 || w->len < 2 * PAGE_SIZE))
			continue;
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, iova,
							    page_address(block + p), 64),
				       "%s: point %u, granule %zu", w->name, n, g);
	}
}

static void sweep_one(struct kunit *test, struct edu_device *edu,
		      struct iommu_domain *domain, const struct sweep *w,
		      struct page *block, bool by_map, struct sweep_count *c)
{
	phys_addr_t phys = page_to_phys(block) + w->head;
	unsigned int n;

	for (n = 1; n < 64; n++) {
		struct dma_iova_state state;
		unsigned int maps = edu_map_failures();
		bool reached;
		int ret;

		if (w->op == SWEEP_LINK)
			KUNIT_ASSERT_TRUE(test,
					  dma_iova_try_alloc(edu->dev, &state, phys, w->size));
		if (by_map)
			edu_fail_map_nth(n);
		else
			current->fail_nth = n;
		if (w->op == SWEEP_TRY_ALLOC)
			ret = dma_iova_try_alloc(edu->dev, &state, phys, w->size) ? 0 : -ENOMEM;
		else
			ret = dma_iova_link(edu->dev, &state, phys + SWEEP_MEM(w->off), w->off,
					    w->len, DMA_BIDIRECTIONAL, 0);
		if (by_map) {
			edu_fail_map_nth(0);
			reached = edu_map_failures() != maps;
		} else {
			reached = !current->fail_nth;
			current->fail_nth = 0;
		}
		if (reached)
			c->reached++;
		if (ret) {
			c->failed++;
			KUNIT_EXPECT_TRUE_MSG(test, reached, "%s failed by itself", w->name);
			KUNIT_EXPECT_EQ_MSG(test, ret, -ENOMEM, "%s: point %u", w->name, n);
			if (w->op == SWEEP_TRY_ALLOC)
				KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
			else
				sweep_check_failed(test, edu, domain, w, &state, block, n);
		} else if (w->op == SWEEP_LINK) {
			/* Done, or a failure the IOMMU driver recovered from. */
			KUNIT_EXPECT_EQ_MSG(test, PAGE_ALIGN(w->head + w->len) >> PAGE_SHIFT,
					    mapped_granules(domain, state.addr + w->off, w->len),
					    "%s: point %u", w->name, n);
		}
		if (!ret || w->op == SWEEP_LINK)
			dma_iova_destroy(edu->dev, &state, w->size, DMA_BIDIRECTIONAL, 0);
		if (!reached)
			break;
	}
	KUNIT_EXPECT_LT_MSG(test, n, 64, "%s never succeeded", w->name);
}

/*
 * Every failure returns -ENOMEM and leaves nothing mapped, for the IOMMU
 * and the device; the IOVA allocator ends where it started. Each operation
 * reaches at least one injection point, and its count is printed.
 */
static void fail_nth_sweep(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *block;
	int before, i;

	KUNIT_ASSERT_EQ(test, 0, edu_fail_every_allocation(test));
	KUNIT_ASSERT_TRUE_MSG(test, is_swiotlb_active(edu->dev),
			      "no swiotlb pool: boot with memory above 4 GiB");
	block = alloc_pages(GFP_KERNEL | __GFP_ZERO, 3);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order3, block));
	load_device(test, edu, 64, 0x5d);
	edu_count_syncs(domain, true);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, stop_counting, domain));
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, restore_trust, edu->pdev));
	before = count_reservations(test, edu->dev);

	for (i = 0; i < ARRAY_SIZE(sweeps); i++) {
		const struct sweep *w = &sweeps[i];
		struct sweep_count allocs = {}, maps = {};

		edu->pdev->untrusted = w->untrusted;
		sweep_one(test, edu, domain, w, block, false, &allocs);
		sweep_one(test, edu, domain, w, block, true, &maps);
		edu->pdev->untrusted = 0;
		kunit_info(test, "%s: %u allocations (%u failed it), %u IOMMU map calls (%u failed it)\n",
			   w->name, allocs.reached, allocs.failed, maps.reached, maps.failed);
		KUNIT_EXPECT_GT_MSG(test, allocs.reached + maps.reached, 0,
				    "%s: no injection point reached", w->name);
		KUNIT_EXPECT_GT_MSG(test, allocs.failed + maps.failed, 0,
				    "%s: no injected failure failed it", w->name);
		if (w->op == SWEEP_LINK)
			KUNIT_EXPECT_GT(test, maps.failed, 0);
	}
	KUNIT_EXPECT_EQ(test, before, count_reservations(test, edu->dev));
}
#else
static void fail_nth_sweep(struct kunit *test)
{
	kunit_skip(test, "needs CONFIG_FAULT_INJECTION");
}
#endif

/*
 * DMA_ATTR_MMIO (upstream 6.18) maps uncached: the IOMMU driver is asked
 * for IOMMU_MMIO and not IOMMU_CACHE, where a plain link of the same device
 * gets IOMMU_CACHE; the teardown leaves nothing mapped either way.
 */
static void mmio_link_is_uncached(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *page = test_page(test), *other = test_page(test);
	struct dma_iova_state state;
	dma_addr_t base;
	int prot;

	edu_count_syncs(domain, true);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, stop_counting, domain));
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 2 * PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(page), 0,
					       PAGE_SIZE, DMA_BIDIRECTIONAL, DMA_ATTR_MMIO));
	prot = edu_last_map_prot();
	KUNIT_EXPECT_TRUE(test, prot & IOMMU_MMIO);
	KUNIT_EXPECT_FALSE(test, prot & IOMMU_CACHE);
	KUNIT_EXPECT_EQ(test, prot & (IOMMU_READ | IOMMU_WRITE), IOMMU_READ | IOMMU_WRITE);
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(other), PAGE_SIZE,
					       PAGE_SIZE, DMA_TO_DEVICE, 0));
	prot = edu_last_map_prot();
	KUNIT_EXPECT_FALSE(test, prot & IOMMU_MMIO);
	KUNIT_EXPECT_EQ(test, !!(prot & IOMMU_CACHE), dev_is_dma_coherent(edu->dev));
	KUNIT_EXPECT_EQ(test, prot & (IOMMU_READ | IOMMU_WRITE), IOMMU_READ);
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 2 * PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, 2, mapped_granules(domain, state.addr, 2 * PAGE_SIZE));
	base = state.addr;
	load_device(test, edu, 64, 0x4b);
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, base, page_address(page), 64));
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, DMA_ATTR_MMIO);
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	/* Nothing is left, uncached or not. */
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 2 * PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base, page_address(page), 64));
}

/*
 * What would bounce may not, under DMA_ATTR_MMIO or
 * DMA_ATTR_REQUIRE_COHERENT: an untrusted device's partial granule fails
 * with -EPERM and maps nothing the device can reach, while a whole page,
 * which needs no bounce, links. REQUIRE_COHERENT in a state that bounced
 * before fails with -EOPNOTSUPP. (A device that needs cache maintenance,
 * the other -EOPNOTSUPP, does not exist on x86.)
 */
static void mmio_and_coherent_never_bounce(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *page = test_page(test), *whole = test_page(test);
	const size_t off = 0x300, len = 0x100;
	struct dma_iova_state state;
	dma_addr_t at;

	KUNIT_ASSERT_TRUE_MSG(test, is_swiotlb_active(edu->dev),
			      "no swiotlb pool: boot with memory above 4 GiB");
	edu->pdev->untrusted = 1;
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, restore_trust, edu->pdev));
	load_device(test, edu, len, 0x5a);

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, page_to_phys(page) + off,
						   2 * PAGE_SIZE));
	at = state.addr;
	KUNIT_EXPECT_EQ(test, -EPERM, dma_iova_link(edu->dev, &state, page_to_phys(page) + off,
						    0, len, DMA_BIDIRECTIONAL, DMA_ATTR_MMIO));
	KUNIT_EXPECT_EQ(test, -EPERM,
			dma_iova_link(edu->dev, &state, page_to_phys(page) + off, 0, len,
				      DMA_BIDIRECTIONAL, DMA_ATTR_REQUIRE_COHERENT));
	KUNIT_EXPECT_FALSE(test, state.__size & DMA_IOVA_USE_SWIOTLB);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, at & PAGE_MASK, 2 * PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, at, page_address(page) + off, len));
	dma_iova_free(edu->dev, &state);

	/* A whole page needs no bounce: it links, and the device reaches it. */
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(whole), 0, PAGE_SIZE,
					       DMA_BIDIRECTIONAL, DMA_ATTR_REQUIRE_COHERENT));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, state.addr, page_address(whole), len));
	dma_iova_destroy(edu->dev, &state, PAGE_SIZE, DMA_BIDIRECTIONAL, DMA_ATTR_REQUIRE_COHERENT);

	/* Once a link bounced, REQUIRE_COHERENT is refused in that state. */
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, page_to_phys(page) + off,
						   2 * PAGE_SIZE));
	at = state.addr;
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(page) + off, 0, len,
					       DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_TRUE(test, state.__size & DMA_IOVA_USE_SWIOTLB);
	KUNIT_EXPECT_EQ(test, -EOPNOTSUPP,
			dma_iova_link(edu->dev, &state, page_to_phys(whole), PAGE_SIZE - off,
				      PAGE_SIZE, DMA_BIDIRECTIONAL, DMA_ATTR_REQUIRE_COHERENT));
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, (at & PAGE_MASK) + PAGE_SIZE, PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, (at & PAGE_MASK) + PAGE_SIZE,
						page_address(whole), len));
	/* The refused link left its granule free for another. */
	KUNIT_EXPECT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(whole),
					       PAGE_SIZE - off, PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, 0, dma_iova_sync(edu->dev, &state, PAGE_SIZE - off, PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, (at & PAGE_MASK) + PAGE_SIZE,
					       page_address(whole), len));
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, (at & PAGE_MASK) + PAGE_SIZE,
						page_address(whole), len));
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, at & PAGE_MASK, 2 * PAGE_SIZE));
}

/*
 * Unlinking the second half of a two-page link: virtio-iommu cannot split
 * the mapping one request made, so the engine unmaps the link whole and
 * maps the first half again. The device proves it: the second page is cut
 * off, the first still reached; once that goes too, neither is.
 */
static void partial_unlink_leaves_nothing_stale(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct dma_iova_state state;
	const size_t len = PAGE_SIZE / 2;
	struct page *block;
	void *first, *second;
	dma_addr_t base;

	block = alloc_pages(GFP_KERNEL | __GFP_ZERO, 1);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order1, block));
	first = page_address(block);
	second = first + PAGE_SIZE;
	load_device(test, edu, len, 0x4b);

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 2 * PAGE_SIZE));
	base = state.addr;
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(block), 0,
					       2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 2 * PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, base + PAGE_SIZE, second, len));

	dma_iova_unlink(edu->dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_FALSE(test, state.__size & DMA_IOVA_KEEP);
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(domain, base + PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, page_to_phys(block), iommu_iova_to_phys(domain, base));
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + PAGE_SIZE, second, len),
			       "the unlinked half is still mapped");
	KUNIT_EXPECT_TRUE_MSG(test, device_reaches(test, edu, base, first, len),
			      "the half still linked is not mapped");

	dma_iova_unlink(edu->dev, &state, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_free(edu->dev, &state);
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base, first, len));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base + PAGE_SIZE, second, len));
}

/*
 * A three-page link cut in the middle: both ends stay mapped, each as a
 * link of its own that a later unlink removes whole.
 */
static void unlink_cuts_a_link_in_the_middle(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct dma_iova_state state;
	struct page *block;
	phys_addr_t phys;
	dma_addr_t base;
	int i;

	block = alloc_pages(GFP_KERNEL | __GFP_ZERO, 2);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order2, block));
	phys = page_to_phys(block);
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 4 * PAGE_SIZE));
	base = state.addr;
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, phys, 0, 3 * PAGE_SIZE,
					       DMA_BIDIRECTIONAL, 0));
	dma_iova_unlink(edu->dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, phys, iommu_iova_to_phys(domain, base));
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(domain, base + PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, phys + 2 * PAGE_SIZE,
			iommu_iova_to_phys(domain, base + 2 * PAGE_SIZE));
	/* The device agrees: the middle is cut off, both ends still reached. */
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ_MSG(test, i != 1,
				    device_reaches(test, edu, base + i * PAGE_SIZE,
						   page_address(block + i), 64),
				    "page %d", i);
	/* The middle is free again; the last page is a link of its own. */
	KUNIT_EXPECT_EQ(test, 0, dma_iova_link(edu->dev, &state, phys + PAGE_SIZE, PAGE_SIZE,
					       PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	expect_reports(1);
	KUNIT_EXPECT_EQ(test, -EBUSY, dma_iova_link(edu->dev, &state, phys, 0, PAGE_SIZE,
						    DMA_BIDIRECTIONAL, 0));
	expect_reported(test, "overlapping link");
	for (i = 0; i < 3; i++)
		dma_iova_unlink(edu->dev, &state, i * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_FALSE(test, state.__size & DMA_IOVA_KEEP);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 4 * PAGE_SIZE));
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + i * PAGE_SIZE,
							    page_address(block + i), 64),
				       "page %d", i);
	dma_iova_free(edu->dev, &state);
}

/*
 * A dense destroy of 512 pages asks the IOMMU driver for no lookup; nor
 * does a destroy across holes, which still leaves nothing the device can
 * reach, at either end of any hole or run.
 */
static void destroy_makes_no_lookups(struct kunit *test)
{
	static const int linked[] = { 0, 1, 4, 9, 10, 11 };
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	const unsigned int n = 512;
	struct dma_iova_state state;
	struct page **pages;
	unsigned int i, lookups, syncs;
	dma_addr_t base;
	int err = 0;

	pages = kunit_kcalloc(test, n, sizeof(*pages), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pages);
	scattered_pages(test, pages, n);

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, n * PAGE_SIZE));
	base = state.addr;
	for (i = 0; i < n && !err; i++)
		err = dma_iova_link(edu->dev, &state, page_to_phys(pages[i]), i * PAGE_SIZE,
				    PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_ASSERT_EQ(test, 0, err);
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, n * PAGE_SIZE));
	edu_count_syncs(domain, true);
	edu_lookups_reset();
	edu_syncs_reset();
	dma_iova_destroy(edu->dev, &state, n * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	lookups = edu_lookups();
	syncs = edu_syncs();
	edu_count_syncs(domain, false);
	kunit_info(test, "dense destroy of %u pages: %u lookups, %u IOTLB syncs\n",
		   n, lookups, syncs);
	KUNIT_EXPECT_EQ(test, 0, lookups);
	KUNIT_EXPECT_LE(test, syncs, 1);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, n * PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base, page_address(pages[0]), 64));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base + (n - 1) * PAGE_SIZE,
						page_address(pages[n - 1]), 64));

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 12 * PAGE_SIZE));
	base = state.addr;
	for (i = 0; i < ARRAY_SIZE(linked); i++)
		KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state,
						       page_to_phys(pages[linked[i]]),
						       linked[i] * PAGE_SIZE, PAGE_SIZE,
						       DMA_FROM_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 12 * PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, base + 9 * PAGE_SIZE,
					       page_address(pages[9]), 64));
	edu_count_syncs(domain, true);
	edu_lookups_reset();
	dma_iova_destroy(edu->dev, &state, 12 * PAGE_SIZE, DMA_FROM_DEVICE, 0);
	lookups = edu_lookups();
	edu_count_syncs(domain, false);
	KUNIT_EXPECT_EQ(test, 0, lookups);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 12 * PAGE_SIZE));
	/* Every page of the runs and the holes beside them: 0-1, 2, 3, 4, 5, 8, 9, 11. */
	for (i = 0; i < 12; i++) {
		if (i == 6 || i == 7 || i == 10)
			continue;
		KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base + i * PAGE_SIZE,
							    page_address(pages[i]), 64),
				       "page %u", i);
	}
}

/*
 * The lowest physical page links like any other (teardown no longer needs
 * to tell a mapping of it from none): the device reads it through the
 * reservation, and once it is unlinked its granule takes a new link, which
 * the device then reads instead. x86 keeps page 0 out of System RAM, but
 * it is memory the device can read.
 */
static void page_zero_links(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *out = test_page(test), *other = test_page(test);
	const size_t len = PAGE_SIZE / 2;
	struct dma_iova_state state;
	dma_addr_t out_dma, base;

	kunit_info(test, "physical page 0 is %sSystem RAM here\n", page_is_ram(0) ? "" : "not ");
	fill(page_address(other), len, 0x5b);
	out_dma = dma_map_page(edu->dev, out, 0, PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_ASSERT_FALSE(test, dma_mapping_error(edu->dev, out_dma));

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, PAGE_SIZE));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, 0, 0, PAGE_SIZE,
					       DMA_TO_DEVICE, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, PAGE_SIZE));
	/* Mapped to 0: the lookup cannot say more. */
	KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(domain, state.addr));
	memset(page_address(out), 0xa5, len);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr, 0, len, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, out_dma, 0, len, DMA_FROM_DEVICE));
	dma_sync_single_for_cpu(edu->dev, out_dma, PAGE_SIZE, DMA_FROM_DEVICE);
	if (pfn_valid(0))
		KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(out), phys_to_virt(0), len));

	/* A second link of the granule is refused while the first lives... */
	expect_reports(1);
	KUNIT_EXPECT_EQ(test, -EBUSY, dma_iova_link(edu->dev, &state, page_to_phys(other), 0,
						    PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	expect_reported(test, "overlapping link");
	/* ...and works, and is what the device reads, once it is unlinked. */
	dma_iova_unlink(edu->dev, &state, 0, PAGE_SIZE, DMA_TO_DEVICE, 0);
	KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(other), 0,
					       PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, page_to_phys(other), iommu_iova_to_phys(domain, state.addr));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, state.addr, 0, len, DMA_TO_DEVICE));
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, out_dma, 0, len, DMA_FROM_DEVICE));
	dma_unmap_page(edu->dev, out_dma, PAGE_SIZE, DMA_FROM_DEVICE);
	KUNIT_EXPECT_EQ(test, 0, memcmp(page_address(out), page_address(other), len));
	/* The destroy zeroes the state. */
	base = state.addr;
	dma_iova_destroy(edu->dev, &state, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, PAGE_SIZE));
	/* Nor does the device reach the page (its buffer holds the page's bytes, not 0x3c). */
	KUNIT_EXPECT_FALSE_MSG(test, device_reaches(test, edu, base, page_address(other), 64),
			       "the second link's page");
}

/* Two threads, one reservation: each links and unlinks its own half. */
#define HALF		5	/* pages: the halves share a bitmap word */
#define ROUNDS		10000

struct half {
	struct edu_device *edu;
	struct dma_iova_state *state;
	struct page **pages;
	size_t first;		/* page */
	int err;
	struct completion done;
};

static int link_unlink_half(void *data)
{
	struct half *h = data;
	struct device *dev = h->edu->dev;
	size_t off = h->first * PAGE_SIZE;
	int round, i;

	for (round = 0; round < ROUNDS && !h->err; round++) {
		/* One link of the half, cut apart page by page... */
		h->err = dma_iova_link(dev, h->state, page_to_phys(h->pages[h->first]), off,
				       HALF * PAGE_SIZE, DMA_FROM_DEVICE, 0);
		for (i = 0; i < HALF && !h->err; i++)
			dma_iova_unlink(dev, h->state, off + i * PAGE_SIZE, PAGE_SIZE,
					DMA_FROM_DEVICE, 0);
	}
	/* ...and, at the end, every other page of it linked. */
	for (i = 0; i < HALF && !h->err; i += 2)
		h->err = dma_iova_link(dev, h->state,
				       page_to_phys(h->pages[h->first]) + i * PAGE_SIZE,
				       off + i * PAGE_SIZE, PAGE_SIZE, DMA_FROM_DEVICE, 0);
	complete(&h->done);
	return 0;
}

static void concurrent_halves(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct page *block, *pages[2 * HALF];
	struct dma_iova_state state;
	struct half halves[2];
	int i;

	/* Each half is contiguous, so that it can be one link. */
	block = alloc_pages(GFP_KERNEL | __GFP_ZERO, 4);
	KUNIT_ASSERT_NOT_NULL(test, block);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_order4, block));
	for (i = 0; i < 2 * HALF; i++)
		pages[i] = block + i;
	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 2 * HALF * PAGE_SIZE));
	for (i = 0; i < 2; i++) {
		struct task_struct *task;

		halves[i] = (struct half){ edu, &state, pages, i * HALF, 0 };
		init_completion(&halves[i].done);
		task = kthread_run(link_unlink_half, &halves[i], "dma_iova_half%d", i);
		KUNIT_ASSERT_FALSE(test, IS_ERR(task));
	}
	for (i = 0; i < 2; i++) {
		wait_for_completion(&halves[i].done);
		KUNIT_EXPECT_EQ_MSG(test, 0, halves[i].err, "half %d", i);
	}
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 2 * HALF * PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, state.__size & DMA_IOVA_KEEP);
	for (i = 0; i < 2 * HALF; i++) {
		bool linked = (i % HALF) % 2 == 0;

		KUNIT_EXPECT_EQ_MSG(test, linked,
				    device_reaches(test, edu, state.addr + i * PAGE_SIZE,
						   page_address(pages[i]), 64),
				    "page %d after %d rounds", i, ROUNDS);
	}
	dma_iova_destroy(edu->dev, &state, 2 * HALF * PAGE_SIZE, DMA_FROM_DEVICE, 0);
}

/*
 * Stress: four kthreads, each with reservations of its own on the one
 * device, for STRESS_SECONDS: reserve, link 8 scattered pages one by one,
 * sync, unlink every other page (the odd or the even ones, in turn), and
 * destroy across the holes. The last round of each is left live, and the
 * device checks it: the pages still linked are reached, the others not.
 */
#define STRESS_THREADS	4
#define STRESS_PAGES	8
#define STRESS_SECONDS	3

struct stress {
	struct device *dev;
	struct page *pages[STRESS_PAGES];
	struct dma_iova_state state;
	unsigned long deadline, rounds;
	struct completion done;
	int err;
};

static int stress_rounds(void *data)
{
	struct stress *w = data;
	int i;

	for (;;) {
		if (!dma_iova_try_alloc(w->dev, &w->state, 0, STRESS_PAGES * PAGE_SIZE)) {
			w->err = -ENOSPC;
			break;
		}
		for (i = 0; i < STRESS_PAGES && !w->err; i++)
			w->err = dma_iova_link(w->dev, &w->state, page_to_phys(w->pages[i]),
					       i * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
		if (!w->err)
			w->err = dma_iova_sync(w->dev, &w->state, 0, STRESS_PAGES * PAGE_SIZE);
		for (i = w->rounds & 1; i < STRESS_PAGES && !w->err; i += 2)
			dma_iova_unlink(w->dev, &w->state, i * PAGE_SIZE, PAGE_SIZE,
					DMA_BIDIRECTIONAL, 0);
		if (w->err || time_after(jiffies, w->deadline))
			break;
		dma_iova_destroy(w->dev, &w->state, STRESS_PAGES * PAGE_SIZE,
				 DMA_BIDIRECTIONAL, 0);
		w->rounds++;
		cond_resched();
	}
	complete(&w->done);
	return 0;
}

static void stress_four_threads(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct stress *w;
	unsigned long rounds = 0;
	int before, t, i;

	w = kunit_kcalloc(test, STRESS_THREADS, sizeof(*w), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, w);
	for (t = 0; t < STRESS_THREADS; t++)
		scattered_pages(test, w[t].pages, STRESS_PAGES);
	load_device(test, edu, 64, 0x5d);
	before = count_reservations(test, edu->dev);

	for (t = 0; t < STRESS_THREADS; t++) {
		struct task_struct *task;

		w[t].dev = edu->dev;
		w[t].deadline = jiffies + STRESS_SECONDS * HZ;
		init_completion(&w[t].done);
		task = kthread_run(stress_rounds, &w[t], "dma_iova_stress%d", t);
		if (IS_ERR(task)) {
			w[t].err = PTR_ERR(task);
			complete(&w[t].done);
		}
	}
	for (t = 0; t < STRESS_THREADS; t++)
		wait_for_completion(&w[t].done);

	for (t = 0; t < STRESS_THREADS; t++) {
		KUNIT_EXPECT_EQ_MSG(test, 0, w[t].err, "thread %d, round %lu", t, w[t].rounds);
		rounds += w[t].rounds;
		if (w[t].err)
			continue;
		KUNIT_EXPECT_FALSE(test, w[t].state.__size & DMA_IOVA_KEEP);
		/* The last round unlinked the pages of its parity. */
		for (i = 0; i < STRESS_PAGES; i++) {
			bool linked = (i & 1) != (w[t].rounds & 1);
			dma_addr_t at = w[t].state.addr + i * PAGE_SIZE;

			KUNIT_EXPECT_EQ_MSG(test, linked, !!iommu_iova_to_phys(domain, at),
					    "thread %d, page %d", t, i);
			KUNIT_EXPECT_EQ_MSG(test, linked,
					    device_reaches(test, edu, at,
							   page_address(w[t].pages[i]), 64),
					    "thread %d, page %d", t, i);
		}
		dma_iova_destroy(edu->dev, &w[t].state, STRESS_PAGES * PAGE_SIZE,
				 DMA_BIDIRECTIONAL, 0);
	}
	kunit_info(test, "%d threads: %lu rounds of 8 links, 4 unlinks and a destroy in %d s, %lu per second\n",
		   STRESS_THREADS, rounds, STRESS_SECONDS, rounds / STRESS_SECONDS);
	KUNIT_EXPECT_GT(test, rounds, 0);
	KUNIT_EXPECT_EQ(test, before, count_reservations(test, edu->dev));
}

/*
 * Lazy mode: a destroy unmaps at once but leaves the IOTLB flush to the
 * flush queue, so until that flush the device may still hold the old
 * translations, and the IOVA must not be handed out again. The device
 * cannot tell (its transfers take longer than the queue's timer), so the
 * test counts the domain's flushes: the destroy flushes nothing, and the
 * reservation that gets the old IOVA back comes after a flush. The test
 * stays on one CPU: the flushed IOVA goes to the cache of the CPU whose
 * timer freed it, the one that queued it, and only that CPU gets it back.
 */
#define LAZY_TRIES	2048

static void lazy_destroy_flushes_before_reuse(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	struct dma_iova_state state, *again;
	unsigned int destroyed;
	struct page *pages[4];
	dma_addr_t old;
	int i, j, n;

	if (domain->type != IOMMU_DOMAIN_DMA_FQ)
		kunit_skip(test, "edu's domain is strict in this boot: no flush queue");
	again = kunit_kcalloc(test, LAZY_TRIES, sizeof(*again), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, again);
	scattered_pages(test, pages, 4);
	edu_count_syncs(domain, true);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, stop_counting, domain));
	/* The test's own kthread, which ends with it. */
	KUNIT_ASSERT_EQ(test, 0, set_cpus_allowed_ptr(current, cpumask_of(raw_smp_processor_id())));

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, &state, 0, 4 * PAGE_SIZE));
	for (i = 0; i < 4; i++)
		KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, &state, page_to_phys(pages[i]),
						       i * PAGE_SIZE, PAGE_SIZE,
						       DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, &state, 0, 4 * PAGE_SIZE));
	old = state.addr;
	edu_syncs_reset();
	dma_iova_destroy(edu->dev, &state, 4 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	destroyed = edu_syncs();
	KUNIT_EXPECT_EQ_MSG(test, 0, destroyed, "a lazy destroy queues its flush");
	/* Unmapped at once, in the page tables. */
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, old, 4 * PAGE_SIZE));

	/* Reserve the same size until the old IOVA comes back. */
	for (n = 0; n < LAZY_TRIES; n++) {
		if (!dma_iova_try_alloc(edu->dev, &again[n], 0, 4 * PAGE_SIZE))
			break;
		if (again[n].addr == old) {
			KUNIT_EXPECT_GT_MSG(test, edu_syncs(), destroyed,
					    "IOVA %pad given again, after %d others, before a flush",
					    &old, n);
			kunit_info(test, "the IOVA came back after %d reservations and %u flushes\n",
				   n, edu_syncs());
			n++;
			break;
		}
		usleep_range(100, 200);
	}
	KUNIT_EXPECT_TRUE_MSG(test, n > 0 && again[n - 1].addr == old,
			      "the IOVA never came back");
	for (j = 0; j < n; j++)
		dma_iova_free(edu->dev, &again[j]);
}

static void need_unmap_behind_iommu(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);

	KUNIT_EXPECT_TRUE(test, dma_need_unmap(edu->dev));
}

static struct kunit_case dma_iova_cases[] = {
	KUNIT_CASE(try_alloc_fits_mask),
	KUNIT_CASE(try_alloc_rejects),
	KUNIT_CASE(try_alloc_without_translation),
	KUNIT_CASE(try_alloc_exhausts),
	KUNIT_CASE(link_unlink_destroy),
	KUNIT_CASE(bad_input_maps_nothing),
	KUNIT_CASE(link_failure_part_way),
	KUNIT_CASE(need_unmap_behind_iommu),
	KUNIT_CASE_SLOW(cycles_leave_allocator_unchanged),
	KUNIT_CASE_SLOW(device_copies_through_links),
	KUNIT_CASE_SLOW(to_device_link_is_read_only),
	KUNIT_CASE_SLOW(unlink_cuts_device_off),
	KUNIT_CASE_SLOW(destroy_cuts_device_off),
	KUNIT_CASE_SLOW(untrusted_bounces_partial_granules),
	KUNIT_CASE_SLOW(bounce_copies_back_linked_bytes_only),
	KUNIT_CASE(mmio_link_is_uncached),
	KUNIT_CASE_SLOW(mmio_and_coherent_never_bounce),
	KUNIT_CASE_SLOW(partial_unlink_leaves_nothing_stale),
	KUNIT_CASE_SLOW(unlink_cuts_a_link_in_the_middle),
	KUNIT_CASE_SLOW(destroy_makes_no_lookups),
	KUNIT_CASE_SLOW(page_zero_links),
	KUNIT_CASE_SLOW(concurrent_halves),
	KUNIT_CASE_SLOW(fail_nth_sweep),
	KUNIT_CASE_SLOW(stress_four_threads),
	KUNIT_CASE_SLOW(lazy_destroy_flushes_before_reuse),
	{}
};

static struct kunit_suite dma_iova_suite = {
	.name = "dma_iova",
	.suite_init = edu_suite_init,
	.suite_exit = edu_suite_exit,
	.test_cases = dma_iova_cases,
};

#ifdef CONFIG_DMA_API_DEBUG
/*
 * DMA-API debugging of the two-step API: each misuse is reported once,
 * refused or repaired, and leaves what was linked as it was, for the IOMMU
 * and for the device.
 */

/* A reservation of @n pages with page @i of @pages linked at page @i, i < @k. */
static void linked(struct kunit *test, struct edu_device *edu, struct dma_iova_state *state,
		   struct page **pages, int n, int k)
{
	int i;

	KUNIT_ASSERT_TRUE(test, dma_iova_try_alloc(edu->dev, state, 0, n * PAGE_SIZE));
	for (i = 0; i < k; i++)
		KUNIT_ASSERT_EQ(test, 0, dma_iova_link(edu->dev, state, page_to_phys(pages[i]),
						       i * PAGE_SIZE, PAGE_SIZE,
						       DMA_BIDIRECTIONAL, 0));
	KUNIT_ASSERT_EQ(test, 0, dma_iova_sync(edu->dev, state, 0, n * PAGE_SIZE));
}

static void debug_overlapping_links(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	unsigned int errors = dma_iova_debug_errors();
	struct dma_iova_state state;
	struct page *pages[3];

	scattered_pages(test, pages, 3);
	linked(test, edu, &state, pages, 3, 2);
	expect_reports(2);
	/* One granule over a link, and two granules of which one is linked. */
	KUNIT_EXPECT_EQ(test, -EBUSY, dma_iova_link(edu->dev, &state, page_to_phys(pages[2]),
						    0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EBUSY, dma_iova_link(edu->dev, &state, page_to_phys(pages[2]),
						    PAGE_SIZE, 2 * PAGE_SIZE,
						    DMA_BIDIRECTIONAL, 0));
	expect_reported(test, "overlapping links");
	KUNIT_EXPECT_EQ(test, 2, dma_iova_debug_errors() - errors);
	/* The links stand, and the granule past them is still free. */
	KUNIT_EXPECT_EQ(test, page_to_phys(pages[0]), iommu_iova_to_phys(domain, state.addr));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, state.addr,
					       page_address(pages[0]), 64));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, state.addr + PAGE_SIZE,
					       page_address(pages[1]), 64));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, state.addr + 2 * PAGE_SIZE,
						page_address(pages[2]), 64));
	dma_iova_destroy(edu->dev, &state, 3 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 2, dma_iova_debug_errors() - errors);
}

static void debug_unlinks_of_nothing(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	unsigned int errors = dma_iova_debug_errors();
	struct dma_iova_state state;
	struct page *pages[3];

	scattered_pages(test, pages, 3);
	linked(test, edu, &state, pages, 3, 2);
	expect_reports(2);
	/* Never linked; then linked once, unlinked twice. */
	dma_iova_unlink(edu->dev, &state, 2 * PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_unlink(edu->dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 1, dma_iova_debug_errors() - errors);
	dma_iova_unlink(edu->dev, &state, PAGE_SIZE, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	expect_reported(test, "unlink of nothing, double unlink");
	KUNIT_EXPECT_EQ(test, 2, dma_iova_debug_errors() - errors);
	/* The first page is still linked, the rest is not. */
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, state.addr,
					       page_address(pages[0]), 64));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, state.addr + PAGE_SIZE,
						page_address(pages[1]), 64));
	KUNIT_EXPECT_EQ(test, 1, mapped_granules(domain, state.addr, 3 * PAGE_SIZE));
	dma_iova_destroy(edu->dev, &state, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 2, dma_iova_debug_errors() - errors);
}

static void debug_teardown_finds_links(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	unsigned int errors = dma_iova_debug_errors();
	struct dma_iova_state state;
	struct page *pages[3];
	dma_addr_t base;

	scattered_pages(test, pages, 3);

	/* dma_iova_free() with links: reported, and unlinked all the same. */
	linked(test, edu, &state, pages, 3, 2);
	base = state.addr;
	expect_reports(1);
	dma_iova_free(edu->dev, &state);
	expect_reported(test, "free with links");
	KUNIT_EXPECT_TRUE(test, state_is_zero(&state));
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 3 * PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base, page_address(pages[0]), 64));

	/*
	 * dma_iova_destroy() of links past its mapped_len, which upstream's
	 * would leave mapped: reported, and unlinked. Up to the last link is
	 * no misuse, holes or not.
	 */
	linked(test, edu, &state, pages, 3, 3);
	base = state.addr;
	expect_reports(1);
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	expect_reported(test, "destroy short of the links");
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 3 * PAGE_SIZE));
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base + 2 * PAGE_SIZE,
						page_address(pages[2]), 64));
	KUNIT_EXPECT_EQ(test, 2, dma_iova_debug_errors() - errors);

	linked(test, edu, &state, pages, 3, 2);
	dma_iova_unlink(edu->dev, &state, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 2, dma_iova_debug_errors() - errors);
}

static void debug_state_after_teardown(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	unsigned int errors = dma_iova_debug_errors();
	struct dma_iova_state state, copy, other;
	struct page *pages[2];
	dma_addr_t base;

	scattered_pages(test, pages, 2);
	linked(test, edu, &state, pages, 2, 1);
	base = state.addr;
	copy = state;
	dma_iova_destroy(edu->dev, &state, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	/* A live reservation the stale copy must not reach. */
	linked(test, edu, &other, pages, 2, 1);

	expect_reports(4);
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_link(edu->dev, &copy, page_to_phys(pages[1]),
						     PAGE_SIZE, PAGE_SIZE,
						     DMA_BIDIRECTIONAL, 0));
	KUNIT_EXPECT_EQ(test, -EINVAL, dma_iova_sync(edu->dev, &copy, 0, PAGE_SIZE));
	dma_iova_unlink(edu->dev, &copy, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	/* A teardown of the copy only clears it. */
	dma_iova_destroy(edu->dev, &copy, 2 * PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	expect_reported(test, "state after destroy");
	KUNIT_EXPECT_TRUE(test, state_is_zero(&copy));
	KUNIT_EXPECT_EQ(test, 4, dma_iova_debug_errors() - errors);

	/* Nothing of the old reservation came back; the live one is whole. */
	if (base != other.addr)
		KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, 2 * PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, 1, mapped_granules(domain, other.addr, 2 * PAGE_SIZE));
	KUNIT_EXPECT_TRUE(test, device_reaches(test, edu, other.addr,
					       page_address(pages[0]), 64));

	/* The same after dma_iova_free(). */
	copy = other;
	dma_iova_unlink(edu->dev, &other, 0, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	dma_iova_free(edu->dev, &other);
	expect_reports(1);
	dma_iova_free(edu->dev, &copy);
	expect_reported(test, "state after free");
	KUNIT_EXPECT_TRUE(test, state_is_zero(&copy));
	KUNIT_EXPECT_EQ(test, 5, dma_iova_debug_errors() - errors);
}

static void debug_reservation_at_unbind(struct kunit *test)
{
	struct iommu_domain *domain;
	struct edu_device *edu = translating_edu(test, &domain);
	unsigned int errors = dma_iova_debug_errors();
	struct dma_iova_state state;
	struct page *pages[1];
	struct device *dev;
	dma_addr_t base;

	scattered_pages(test, pages, 1);
	linked(test, edu, &state, pages, 1, 1);
	base = state.addr;
	expect_reports(1);
	dev = edu_unbind(test);
	expect_reported(test, "reservation at unbind");
	KUNIT_EXPECT_EQ(test, 1, dma_iova_debug_errors() - errors);
	/* The domain outlives the driver: the teardown still works... */
	dma_iova_destroy(dev, &state, PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
	KUNIT_EXPECT_EQ(test, 0, mapped_granules(domain, base, PAGE_SIZE));
	/* ...and, bound again, the device cannot reach the page. */
	KUNIT_ASSERT_EQ(test, 0, edu_rebind(dev));
	edu = edu_get(test);
	KUNIT_EXPECT_FALSE(test, device_reaches(test, edu, base, page_address(pages[0]), 64));
	/* Nothing was left for this unbind to report. */
	dev = edu_unbind(test);
	KUNIT_ASSERT_EQ(test, 0, edu_rebind(dev));
	KUNIT_EXPECT_EQ(test, 1, dma_iova_debug_errors() - errors);
}

static struct kunit_case dma_iova_debug_cases[] = {
	KUNIT_CASE_SLOW(debug_overlapping_links),
	KUNIT_CASE_SLOW(debug_unlinks_of_nothing),
	KUNIT_CASE_SLOW(debug_teardown_finds_links),
	KUNIT_CASE_SLOW(debug_state_after_teardown),
	KUNIT_CASE_SLOW(debug_reservation_at_unbind),
	{}
};

static struct kunit_suite dma_iova_debug_suite = {
	.name = "dma_iova_debug",
	.suite_init = edu_suite_init,
	.suite_exit = edu_suite_exit,
	.test_cases = dma_iova_debug_cases,
};

kunit_test_suites(&dma_iova_suite, &dma_iova_debug_suite);
#else
kunit_test_suite(dma_iova_suite);
#endif
