// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmark: the two-step IOVA DMA API against dma_map_page() and
 * dma_map_sg(), side by side, for QEMU's edu device behind the boot's IOMMU.
 *
 * Booted with iommu_edu_kunit.bench=1, it maps and unmaps the same pages
 * through each path in turn, repeating the round so that the paths
 * interleave, prints one line per measurement and powers the machine off.
 * scripts/bench-report.py turns the lines into the table.
 *
 * Each measurement is one map of N pages and its unmap, on the guest clock;
 * IOTLB syncs (iotlb_sync_map, iotlb_sync, flush_iotlb_all) are counted by
 * interposing on the domain's ops for the run. Each path's input is
 * prepared outside the timed region: the dma_addr_t array of map_page, the
 * scatterlist of map_sg, the physical addresses of mapped_pages and the PFN
 * entries of hmm_dma_map.
 */

#define pr_fmt(fmt) "dma_bench: " fmt

#include <linux/delay.h>
#include <linux/dma-mapping.h>
#include <linux/init.h>
#include <linux/iommu.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/reboot.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/vmalloc.h>

#include "edu.h"

static bool bench;
module_param(bench, bool, 0444);
MODULE_PARM_DESC(bench, "Run the DMA mapping benchmark at boot, then power off");

static unsigned int bench_reps = 15;
module_param(bench_reps, uint, 0444);
MODULE_PARM_DESC(bench_reps, "Rounds of the benchmark");

#define MAX_PAGES	4096
#define CHUNK_ORDER	10	/* contiguous runs of 1024 pages */
#define DIR		DMA_BIDIRECTIONAL

struct bench {
	u64 started;	/* when the timed part began, if not at the call */
	u64 mapped;	/* when the map half ended */
	struct device *dev;
	struct iommu_domain *domain;
	struct page **pages;
	dma_addr_t *addrs;
	struct sg_table sgt;
};

static int path_map_page(struct bench *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		b->addrs[i] = dma_map_page(b->dev, b->pages[i], 0, PAGE_SIZE, DIR);
		if (dma_mapping_error(b->dev, b->addrs[i]))
			break;
	}
	b->mapped = ktime_get_ns();
	while (i--)
		dma_unmap_page(b->dev, b->addrs[i], PAGE_SIZE, DIR);
	return 0;
}

static int path_map_sg(struct bench *b, unsigned int n)
{
	int ret;

	ret = dma_map_sgtable(b->dev, &b->sgt, DIR, 0);
	if (ret)
		return ret;
	b->mapped = ktime_get_ns();
	dma_unmap_sgtable(b->dev, &b->sgt, DIR, 0);
	return 0;
}

static int path_iova_batch(struct bench *b, unsigned int n)
{
	struct dma_iova_state state;
	unsigned int i;
	int ret = 0;

	if (!dma_iova_try_alloc(b->dev, &state, 0, n * PAGE_SIZE))
		return -ENOSPC;
	for (i = 0; i < n && !ret; i++)
		ret = dma_iova_link(b->dev, &state, page_to_phys(b->pages[i]),
				    i * PAGE_SIZE, PAGE_SIZE, DIR, 0);
	if (!ret)
		ret = dma_iova_sync(b->dev, &state, 0, n * PAGE_SIZE);
	b->mapped = ktime_get_ns();
	dma_iova_destroy(b->dev, &state, n * PAGE_SIZE, DIR, 0);
	return ret;
}

/*
 * Holes: the N pages linked at every other page of a reservation twice as
 * large, then destroyed; ns per page is per linked page.
 */
static int path_iova_holes(struct bench *b, unsigned int n)
{
	struct dma_iova_state state;
	unsigned int i;
	int ret = 0;

	if (!dma_iova_try_alloc(b->dev, &state, 0, 2 * n * PAGE_SIZE))
		return -ENOSPC;
	for (i = 0; i < n && !ret; i++)
		ret = dma_iova_link(b->dev, &state, page_to_phys(b->pages[i]),
				    2 * i * PAGE_SIZE, PAGE_SIZE, DIR, 0);
	if (!ret)
		ret = dma_iova_sync(b->dev, &state, 0, 2 * n * PAGE_SIZE);
	b->mapped = ktime_get_ns();
	dma_iova_destroy(b->dev, &state, 2 * n * PAGE_SIZE, DIR, 0);
	return ret;
}

/*
 * The floor, not a DMA API path: the IOMMU driver's map_pages called for
 * each page into a reservation, then one iommu_unmap(). What the other
 * paths cost above it is theirs.
 */
static int path_ops_floor(struct bench *b, unsigned int n)
{
	struct dma_iova_state state;
	const struct iommu_domain_ops *ops = b->domain->ops;
	unsigned int i;
	size_t mapped;
	int ret = 0;

	if (!dma_iova_try_alloc(b->dev, &state, 0, n * PAGE_SIZE))
		return -ENOSPC;
	for (i = 0; i < n && !ret; i++)
		ret = ops->map_pages(b->domain, state.addr + i * PAGE_SIZE,
				     page_to_phys(b->pages[i]), PAGE_SIZE, 1,
				     IOMMU_READ | IOMMU_WRITE | IOMMU_CACHE, GFP_ATOMIC, &mapped);
	b->mapped = ktime_get_ns();
	iommu_unmap(b->domain, state.addr, n * PAGE_SIZE);
	dma_iova_free(b->dev, &state);
	return ret;
}

/* ODP-style: each page linked and synced on its own, then unlinked. */
static int path_iova_on_demand(struct bench *b, unsigned int n)
{
	struct dma_iova_state state;
	unsigned int i, linked = 0;
	int ret = 0;

	if (!dma_iova_try_alloc(b->dev, &state, 0, n * PAGE_SIZE))
		return -ENOSPC;
	for (i = 0; i < n && !ret; i++) {
		ret = dma_iova_link(b->dev, &state, page_to_phys(b->pages[i]),
				    i * PAGE_SIZE, PAGE_SIZE, DIR, 0);
		if (!ret) {
			linked++;
			ret = dma_iova_sync(b->dev, &state, i * PAGE_SIZE, PAGE_SIZE);
		}
	}
	b->mapped = ktime_get_ns();
	for (i = 0; i < linked; i++)
		dma_iova_unlink(b->dev, &state, i * PAGE_SIZE, PAGE_SIZE, DIR, 0);
	dma_iova_free(b->dev, &state);
	return ret;
}

/*
 * In dma_bench_rust.rs: MappedPages' two-step path, a kernel::dma::iova::
 * Reservation with a link per run of contiguous pages, dropped.
 */
int dma_bench_pages(struct device *dev, struct page **pages, unsigned int n,
		    u64 *started, u64 *mapped);

static int path_mapped_pages(struct bench *b, unsigned int n)
{
	return dma_bench_pages(b->dev, b->pages, n, &b->started, &b->mapped);
}

#if IS_ENABLED(CONFIG_HMM_MIRROR)
/* In dma_bench_rust.rs: kernel::hmm::DmaMap, mapped at once, dropped. */
int dma_bench_hmm(struct device *dev, struct page **pages, unsigned int n,
		  u64 *started, u64 *mapped);

/*
 * HMM-style: a DmaMap's entries mapped with one sync, one-flush teardown.
 * The entries are filled before the timed part, as hmm_range_fault() would.
 */
static int path_hmm_dma_map(struct bench *b, unsigned int n)
{
	return dma_bench_hmm(b->dev, b->pages, n, &b->started, &b->mapped);
}
#endif

static const struct {
	const char *name;
	int (*run)(struct bench *b, unsigned int n);
	/* Memory kept per mapped page, in bits: the driver's and the engine's. */
	unsigned int state;
} paths[] = {
	{ "map_page", path_map_page, 8 * sizeof(dma_addr_t) },
	{ "map_sg", path_map_sg, 8 * sizeof(struct scatterlist) },
	/* The engine's record of the links: two bits a granule. */
	{ "iova_batch", path_iova_batch, 2 },
	{ "iova_on_demand", path_iova_on_demand, 2 },
	{ "iova_holes", path_iova_holes, 4 },
	{ "ops_floor", path_ops_floor, 0 },
	/* And a bit a page in the Reservation. */
	{ "mapped_pages", path_mapped_pages, 3 },
#if IS_ENABLED(CONFIG_HMM_MIRROR)
	/* The PFN word, which the HMM mirror keeps anyway, and the record. */
	{ "hmm_dma_map", path_hmm_dma_map, 8 * sizeof(unsigned long) + 2 },
#endif
};

static const unsigned int sizes[] = { 1, 16, 512, 4096 };

/* Scattered: every other page of individual allocations. */
static int get_scattered(struct page **pages, struct page **spare)
{
	unsigned int i;

	for (i = 0; i < 2 * MAX_PAGES; i++) {
		struct page *page = alloc_page(GFP_KERNEL);

		if (!page)
			return -ENOMEM;
		if (i % 2)
			spare[i / 2] = page;
		else
			pages[i / 2] = page;
	}
	return 0;
}

/* Contiguous: runs of 1 << CHUNK_ORDER pages. */
static int get_contiguous(struct page **pages)
{
	unsigned int i, j, run = 1 << CHUNK_ORDER;

	for (i = 0; i < MAX_PAGES; i += run) {
		struct page *block = alloc_pages(GFP_KERNEL, CHUNK_ORDER);

		if (!block)
			return -ENOMEM;
		for (j = 0; j < run; j++)
			pages[i + j] = block + j;
	}
	return 0;
}

static void put_pages(struct page **pages, struct page **spare, bool contiguous)
{
	unsigned int i, run = 1 << CHUNK_ORDER;

	for (i = 0; i < MAX_PAGES; i++) {
		if (contiguous) {
			if (pages[i] && i % run == 0)
				__free_pages(pages[i], CHUNK_ORDER);
		} else {
			if (pages[i])
				__free_page(pages[i]);
			if (spare[i])
				__free_page(spare[i]);
		}
	}
}

static void run_layout(struct bench *b, const char *iommu, const char *mode,
		       const char *layout)
{
	unsigned int s, p, rep;

	for (s = 0; s < ARRAY_SIZE(sizes); s++) {
		unsigned int n = sizes[s];

		if (sg_alloc_table_from_pages(&b->sgt, b->pages, n, 0,
					      (unsigned long)n * PAGE_SIZE, GFP_KERNEL)) {
			pr_err("no scatterlist for %u pages\n", n);
			return;
		}
		/* Round 0 warms up and is not reported. */
		for (rep = 0; rep <= bench_reps; rep++) {
			for (p = 0; p < ARRAY_SIZE(paths); p++) {
				u64 start, ns, map_ns;
				int ret, count;

				edu_syncs_reset();
				b->started = 0;
				start = ktime_get_ns();
				ret = paths[p].run(b, n);
				if (b->started)
					start = b->started;
				ns = ktime_get_ns() - start;
				map_ns = b->mapped - start;
				count = edu_syncs();
				if (ret) {
					pr_err("%s failed: %d\n", paths[p].name, ret);
					continue;
				}
				if (!rep)
					continue;
				pr_info("iommu=%s mode=%s layout=%s path=%s pages=%u rep=%u ns=%llu map_ns=%llu syncs=%d state=%u sg_nents=%u\n",
					iommu, mode, layout, paths[p].name, n, rep, ns,
					map_ns, count, paths[p].state,
					b->sgt.orig_nents);
			}
			/* Let a flush queue drain between rounds. */
			msleep(20);
		}
		sg_free_table(&b->sgt);
	}
}

static int __init dma_bench(void)
{
	struct page **pages, **spare;
	struct edu_device *edu;
	struct bench b = {};
	const char *iommu, *mode;
	int ret;

	if (!bench)
		return 0;

	ret = edu_suite_init(NULL);
	edu = edu_bound();
	if (ret || !edu) {
		pr_err("no edu device (%d)\n", ret);
		goto off;
	}
	b.dev = edu->dev;
	b.domain = iommu_get_domain_for_dev(b.dev);
	if (!b.domain || !iommu_is_dma_domain(b.domain)) {
		pr_err("edu is not behind a translating IOMMU\n");
		goto unbind;
	}
	iommu = edu_iommu_name(b.dev);
	mode = b.domain->type == IOMMU_DOMAIN_DMA_FQ ? "lazy" : "strict";

	pages = vcalloc(MAX_PAGES, sizeof(*pages));
	spare = vcalloc(MAX_PAGES, sizeof(*spare));
	b.addrs = vcalloc(MAX_PAGES, sizeof(*b.addrs));
	if (!pages || !spare || !b.addrs)
		goto free;
	b.pages = pages;

	edu_count_syncs(b.domain, true);
	pr_info("start iommu=%s mode=%s reps=%u\n", iommu, mode, bench_reps);
	if (!get_scattered(pages, spare))
		run_layout(&b, iommu, mode, "scattered");
	put_pages(pages, spare, false);
	memset(pages, 0, MAX_PAGES * sizeof(*pages));
	memset(spare, 0, MAX_PAGES * sizeof(*spare));
	if (!get_contiguous(pages))
		run_layout(&b, iommu, mode, "contiguous");
	put_pages(pages, spare, true);
	edu_count_syncs(b.domain, false);
	pr_info("done\n");
free:
	vfree(b.addrs);
	vfree(spare);
	vfree(pages);
unbind:
	edu_suite_exit(NULL);
off:
	kernel_power_off();
	return 0;
}
late_initcall(dma_bench);
