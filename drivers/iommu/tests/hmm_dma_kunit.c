// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit: the C HMM DMA helpers (include/linux/hmm-dma.h) used as RDMA's
 * on-demand paging uses them, on QEMU's edu device: a user range faulted
 * with hmm_range_fault(), each page mapped with hmm_dma_map_pfn(), data
 * moved by the device, entries unmapped by the range's invalidation, and
 * the map freed with holes. Every "nothing mapped" is proven by a device
 * write that does not land, wherever an IOMMU translates.
 */

#include <kunit/test.h>
#include <linux/device/driver.h>
#include <linux/hmm.h>
#include <linux/hmm-dma.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/pci-p2pdma.h>
#include <linux/pci.h>
#include <linux/sched/mm.h>
#include <linux/string.h>

#include "edu.h"

#define NPAGES	8
#define LEN	256	/* bytes the device writes to probe an address */
#define SEED	0x6d	/* what the device's buffer holds */

/* A driver's mirror of a user range, as umem_odp keeps one. */
struct mirror {
	struct mmu_interval_notifier notifier;
	struct mutex lock;	/* orders faults against invalidations */
	struct hmm_dma_map map;
	struct device *dev;
	unsigned long start;
	unsigned int invalidated;	/* entries unmapped by invalidations */
};

static bool mirror_invalidate(struct mmu_interval_notifier *mni,
			      const struct mmu_notifier_range *range,
			      unsigned long cur_seq)
{
	struct mirror *m = container_of(mni, struct mirror, notifier);
	unsigned long start = max(range->start, m->start);
	unsigned long end = min(range->end, m->start + NPAGES * PAGE_SIZE);
	unsigned long addr;

	if (!mmu_notifier_range_blockable(range))
		return false;
	mutex_lock(&m->lock);
	mmu_interval_set_seq(mni, cur_seq);
	for (addr = start; addr < end; addr += PAGE_SIZE)
		if (hmm_dma_unmap_pfn(m->dev, &m->map, (addr - m->start) >> PAGE_SHIFT))
			m->invalidated++;
	mutex_unlock(&m->lock);
	return true;
}

static const struct mmu_interval_notifier_ops mirror_ops = {
	.invalidate = mirror_invalidate,
};

static void remove_notifier(void *mni)
{
	mmu_interval_notifier_remove(mni);
}

static void free_map(void *m)
{
	struct mirror *mirror = m;

	hmm_dma_map_free(mirror->dev, &mirror->map);
}

/* Fills the device's buffer with SEED, through a streaming mapping. */
static void load_device(struct kunit *test, struct edu_device *edu)
{
	struct page *page = alloc_page(GFP_KERNEL);
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, page);
	memset(page_address(page), SEED, LEN);
	dma = dma_map_page(edu->dev, page, 0, PAGE_SIZE, DMA_TO_DEVICE);
	KUNIT_EXPECT_FALSE(test, dma_mapping_error(edu->dev, dma));
	if (!dma_mapping_error(edu->dev, dma)) {
		KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, dma, 0, LEN, DMA_TO_DEVICE));
		dma_unmap_page(edu->dev, dma, PAGE_SIZE, DMA_TO_DEVICE);
	}
	__free_page(page);
}

/* Whether a device write to @dma lands in @page. */
static bool reaches(struct kunit *test, struct edu_device *edu, dma_addr_t dma,
		    struct page *page)
{
	void *cpu = page_address(page);

	memset(cpu, 0x3c, LEN);
	KUNIT_EXPECT_EQ(test, 0, edu_dma(edu, dma, 0, LEN, DMA_FROM_DEVICE));
	return !memchr_inv(cpu, SEED, LEN);
}

/* Faults the whole range in and maps every page, as a page fault does. */
static void fault_and_map(struct kunit *test, struct mirror *m, dma_addr_t *dma)
{
	struct pci_p2pdma_map_state p2pdma_state = {};
	struct hmm_range range = {
		.notifier = &m->notifier,
		.start = m->start,
		.end = m->start + NPAGES * PAGE_SIZE,
		.hmm_pfns = m->map.pfn_list,
		.default_flags = HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE,
	};
	int ret, i, tries = 0;

	for (;;) {
		KUNIT_ASSERT_LT(test, tries++, 100);
		range.notifier_seq = mmu_interval_read_begin(&m->notifier);
		mmap_read_lock(current->mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(current->mm);
		if (ret == -EBUSY)
			continue;
		KUNIT_ASSERT_EQ(test, 0, ret);
		mutex_lock(&m->lock);
		if (mmu_interval_read_retry(&m->notifier, range.notifier_seq)) {
			mutex_unlock(&m->lock);
			continue;
		}
		for (i = 0; i < NPAGES; i++)
			dma[i] = hmm_dma_map_pfn(m->dev, &m->map, i, &p2pdma_state);
		mutex_unlock(&m->lock);
		return;
	}
}

static void setup(struct kunit *test, struct edu_device *edu, struct mirror *m)
{
	int ret;

	m->dev = edu->dev;
	mutex_init(&m->lock);
	m->start = kunit_vm_mmap(test, NULL, 0, NPAGES * PAGE_SIZE, PROT_READ | PROT_WRITE,
				 MAP_ANONYMOUS | MAP_PRIVATE, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(m->start));
	KUNIT_ASSERT_EQ(test, 0, mmu_interval_notifier_insert(&m->notifier, current->mm, m->start,
							      NPAGES * PAGE_SIZE, &mirror_ops));
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, remove_notifier, &m->notifier));
	ret = hmm_dma_map_alloc(m->dev, &m->map, NPAGES, PAGE_SIZE);
	KUNIT_ASSERT_EQ(test, 0, ret);
	KUNIT_ASSERT_EQ(test, 0, kunit_add_action_or_reset(test, free_map, m));
}

static bool translated(struct edu_device *edu)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(edu->dev);

	return domain && iommu_is_dma_domain(domain);
}

/*
 * The path upstream's helpers take: one IOVA reservation behind an IOMMU,
 * otherwise a dma_addr_t list only when unmapping needs it.
 */
static void alloc_picks_the_path(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct mirror *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, m);
	setup(test, edu, m);
	KUNIT_EXPECT_EQ(test, m->map.dma_entry_size, PAGE_SIZE);
	KUNIT_EXPECT_NOT_NULL(test, m->map.pfn_list);
	if (translated(edu)) {
		KUNIT_EXPECT_TRUE(test, dma_use_iova(&m->map.state));
		KUNIT_EXPECT_EQ(test, dma_iova_size(&m->map.state), NPAGES * PAGE_SIZE);
		KUNIT_EXPECT_NULL(test, m->map.dma_list);
	} else {
		KUNIT_EXPECT_FALSE(test, dma_use_iova(&m->map.state));
		KUNIT_EXPECT_EQ(test, !!m->map.dma_list, dma_need_unmap(edu->dev));
	}
}

/*
 * The ODP cycle: fault and map the range, let the device write every page,
 * munmap two pages (the invalidation unmaps exactly their entries, and the
 * device no longer reaches them), and free the map with those holes
 * (nothing is left that the device reaches).
 */
static void odp_fault_map_invalidate_free(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct mirror *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct page *pages[NPAGES];
	dma_addr_t dma[NPAGES];
	bool iommu = translated(edu);
	int i;

	KUNIT_ASSERT_NOT_NULL(test, m);
	setup(test, edu, m);
	fault_and_map(test, m, dma);
	load_device(test, edu);
	for (i = 0; i < NPAGES; i++) {
		unsigned long pfn = m->map.pfn_list[i];

		KUNIT_ASSERT_NE(test, dma[i], DMA_MAPPING_ERROR);
		KUNIT_EXPECT_TRUE(test, pfn & HMM_PFN_DMA_MAPPED);
		KUNIT_EXPECT_FALSE(test, pfn & (HMM_PFN_P2PDMA | HMM_PFN_P2PDMA_BUS));
		if (iommu)
			KUNIT_EXPECT_EQ(test, dma[i], m->map.state.addr + i * PAGE_SIZE);
		/* Mapped already: the same address. */
		KUNIT_EXPECT_EQ(test, hmm_dma_map_pfn(m->dev, &m->map, i, NULL), dma[i]);
		/* Held, so that the device can be shown not to reach them. */
		pages[i] = hmm_pfn_to_page(pfn);
		KUNIT_EXPECT_EQ(test, page_to_phys(pages[i]), hmm_pfn_to_phys(pfn));
		get_page(pages[i]);
		KUNIT_EXPECT_TRUE(test, reaches(test, edu, dma[i], pages[i]));
	}

	vm_munmap(m->start + 2 * PAGE_SIZE, 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, m->invalidated, 2);
	for (i = 0; i < NPAGES; i++) {
		bool gone = i == 2 || i == 3;

		KUNIT_EXPECT_EQ(test, !(m->map.pfn_list[i] & HMM_PFN_DMA_MAPPED), gone);
		/* Without an IOMMU nothing can stop the device. */
		if (iommu)
			KUNIT_EXPECT_EQ(test, reaches(test, edu, dma[i], pages[i]), !gone);
	}

	hmm_dma_map_free(m->dev, &m->map);
	KUNIT_EXPECT_NULL(test, m->map.pfn_list);
	KUNIT_EXPECT_FALSE(test, dma_use_iova(&m->map.state));
	for (i = 0; i < NPAGES; i++) {
		if (iommu)
			KUNIT_EXPECT_FALSE(test, reaches(test, edu, dma[i], pages[i]));
		put_page(pages[i]);
	}
}

/* Bad input gets a clear answer and maps nothing. */
static void bad_input_maps_nothing(struct kunit *test)
{
	struct edu_device *edu = edu_get(test);
	struct mirror *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct hmm_dma_map other = {};
	struct page *page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	bool iommu = translated(edu);
	dma_addr_t dma;

	KUNIT_ASSERT_NOT_NULL(test, m);
	KUNIT_ASSERT_NOT_NULL(test, page);
	KUNIT_EXPECT_EQ(test, -EINVAL, hmm_dma_map_alloc(edu->dev, &other, 0, PAGE_SIZE));
	KUNIT_EXPECT_EQ(test, -EINVAL, hmm_dma_map_alloc(edu->dev, &other, NPAGES, 2 * PAGE_SIZE));
	KUNIT_EXPECT_NULL(test, other.pfn_list);
	setup(test, edu, m);

	/* An entry never faulted, one in error, one past the map. */
	KUNIT_EXPECT_EQ(test, hmm_dma_map_pfn(m->dev, &m->map, 0, NULL), DMA_MAPPING_ERROR);
	m->map.pfn_list[1] = HMM_PFN_ERROR;
	KUNIT_EXPECT_EQ(test, hmm_dma_map_pfn(m->dev, &m->map, 1, NULL), DMA_MAPPING_ERROR);
	KUNIT_EXPECT_EQ(test, hmm_dma_map_pfn(m->dev, &m->map, NPAGES, NULL), DMA_MAPPING_ERROR);
	KUNIT_EXPECT_FALSE(test, hmm_dma_unmap_pfn(m->dev, &m->map, NPAGES));
	KUNIT_EXPECT_FALSE(test, m->map.pfn_list[0] & HMM_PFN_DMA_MAPPED);
	KUNIT_EXPECT_FALSE(test, m->map.pfn_list[1] & HMM_PFN_DMA_MAPPED);
	if (iommu) {
		struct iommu_domain *domain = iommu_get_domain_for_dev(edu->dev);

		KUNIT_EXPECT_EQ(test, 0, iommu_iova_to_phys(domain, m->map.state.addr));
		load_device(test, edu);
		KUNIT_EXPECT_FALSE(test, reaches(test, edu, m->map.state.addr, page));
	}

	/* A double unmap: the second finds nothing. */
	m->map.pfn_list[2] = page_to_pfn(page) | HMM_PFN_VALID | HMM_PFN_WRITE;
	dma = hmm_dma_map_pfn(m->dev, &m->map, 2, NULL);
	KUNIT_EXPECT_NE(test, dma, DMA_MAPPING_ERROR);
	KUNIT_EXPECT_TRUE(test, hmm_dma_unmap_pfn(m->dev, &m->map, 2));
	KUNIT_EXPECT_FALSE(test, hmm_dma_unmap_pfn(m->dev, &m->map, 2));
	KUNIT_EXPECT_FALSE(test, m->map.pfn_list[2] & HMM_PFN_DMA_MAPPED);
	if (iommu) {
		load_device(test, edu);
		KUNIT_EXPECT_FALSE(test, reaches(test, edu, dma, page));
	}
	__free_page(page);
}

/*
 * P2P through the C helpers, on the P2P machines (x86_64_p2p*.py): a page
 * of an NVMe controller's memory buffer, mapped by hmm_dma_map_pfn() for
 * the edu under the same PCIe switch (its bus address, no mapping) and for
 * the edu on the root complex (through the host bridge as uncached MMIO
 * where the host bridge forwards P2P, otherwise refused).
 */
static void p2p_by_bus_address_or_host_bridge(struct kunit *test)
{
	struct pci_dev *nvme, *pdev = NULL;
	int switch_seen = 0, root_seen = 0;
	pci_bus_addr_t bus;
	struct page *page;
	phys_addr_t phys;
	void *mem;

	wait_for_device_probe();
	nvme = pci_get_device(0x1b36, 0x0010, NULL);
	if (!nvme)
		kunit_skip(test, "no NVMe controller (P2P memory provider) on this machine");
	mem = pci_alloc_p2pmem(nvme, PAGE_SIZE);
	if (!mem) {
		pci_dev_put(nvme);
		KUNIT_FAIL_AND_ABORT(test, "the NVMe CMB is not P2P memory");
	}
	bus = pci_p2pmem_virt_to_bus(nvme, mem);
	page = virt_to_page(mem);
	phys = page_to_phys(page);

	while ((pdev = pci_get_device(0x1234, 0x11e8, pdev))) {
		struct iommu_domain *domain = iommu_get_domain_for_dev(&pdev->dev);
		struct pci_p2pdma_map_state state = {};
		struct hmm_dma_map map = {};
		enum pci_p2pdma_map_type type;
		dma_addr_t dma;
		int prot;

		type = pci_p2pdma_state(&state, &pdev->dev, page);
		KUNIT_ASSERT_EQ(test, 0, hmm_dma_map_alloc(&pdev->dev, &map, 1, PAGE_SIZE));
		map.pfn_list[0] = page_to_pfn(page) | HMM_PFN_VALID | HMM_PFN_WRITE;
		memset(&state, 0, sizeof(state));
		dma = hmm_dma_map_pfn(&pdev->dev, &map, 0, &state);
		if (pdev->bus->number) {
			switch_seen++;
			KUNIT_EXPECT_EQ(test, type, PCI_P2PDMA_MAP_BUS_ADDR);
			KUNIT_EXPECT_EQ(test, dma, bus);
			KUNIT_EXPECT_EQ(test, pci_p2pdma_bus_addr_map(&state, phys), bus);
			KUNIT_EXPECT_TRUE(test, map.pfn_list[0] & HMM_PFN_DMA_MAPPED);
			KUNIT_EXPECT_TRUE(test, map.pfn_list[0] & HMM_PFN_P2PDMA_BUS);
		} else if (edu_expect_p2p_host_bridge()) {
			root_seen++;
			KUNIT_EXPECT_EQ(test, type, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
			KUNIT_ASSERT_NE(test, dma, DMA_MAPPING_ERROR);
			KUNIT_EXPECT_TRUE(test, map.pfn_list[0] & HMM_PFN_P2PDMA);
			KUNIT_ASSERT_NOT_NULL(test, domain);
			KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, dma), phys);
			/* Mapped again, as the IOMMU driver sees it: uncached MMIO. */
			KUNIT_EXPECT_TRUE(test, hmm_dma_unmap_pfn(&pdev->dev, &map, 0));
			edu_count_syncs(domain, true);
			dma = hmm_dma_map_pfn(&pdev->dev, &map, 0, &state);
			prot = edu_last_map_prot();
			edu_count_syncs(domain, false);
			KUNIT_EXPECT_NE(test, dma, DMA_MAPPING_ERROR);
			KUNIT_EXPECT_EQ(test, prot & (IOMMU_MMIO | IOMMU_CACHE), IOMMU_MMIO);
		} else {
			root_seen++;
			KUNIT_EXPECT_EQ(test, type, PCI_P2PDMA_MAP_NOT_SUPPORTED);
			KUNIT_EXPECT_EQ(test, dma, DMA_MAPPING_ERROR);
			KUNIT_EXPECT_FALSE(test, map.pfn_list[0] & HMM_PFN_DMA_MAPPED);
		}
		hmm_dma_map_free(&pdev->dev, &map);
		if (domain && dma != DMA_MAPPING_ERROR && !pdev->bus->number)
			KUNIT_EXPECT_EQ(test, iommu_iova_to_phys(domain, dma), 0);
	}
	pci_free_p2pmem(nvme, mem, PAGE_SIZE);
	pci_dev_put(nvme);
	KUNIT_EXPECT_TRUE_MSG(test, switch_seen && root_seen,
			      "an edu under the switch and one on the root complex");
}

static struct kunit_case hmm_p2p_c_cases[] = {
	KUNIT_CASE(p2p_by_bus_address_or_host_bridge),
	{}
};

static struct kunit_suite hmm_p2p_c_suite = {
	.name = "hmm_p2p_c",
	.test_cases = hmm_p2p_c_cases,
};

static struct kunit_case hmm_dma_c_cases[] = {
	KUNIT_CASE(alloc_picks_the_path),
	KUNIT_CASE_SLOW(odp_fault_map_invalidate_free),
	KUNIT_CASE(bad_input_maps_nothing),
	{}
};

static struct kunit_suite hmm_dma_c_suite = {
	.name = "hmm_dma_c",
	.suite_init = edu_suite_init,
	.suite_exit = edu_suite_exit,
	.test_cases = hmm_dma_c_cases,
};

kunit_test_suites(&hmm_dma_c_suite, &hmm_p2p_c_suite);
