/* SPDX-License-Identifier: GPL-2.0 */
/*
 * QEMU's "edu" educational PCI device (1234:11e8) as a DMA test target.
 *
 * The device copies up to a page between RAM and a 4 KiB buffer of its own,
 * through the IOMMU, so a test can check a mapping by real device DMA: the
 * bytes arrive when the mapping is right, and a missing or read-only
 * mapping stops them.
 */
#ifndef _IOMMU_TESTS_EDU_H
#define _IOMMU_TESTS_EDU_H

#include <linux/dma-direction.h>
#include <linux/types.h>

struct device;
struct iommu_domain;
struct kunit;
struct kunit_suite;
struct pci_dev;

#define EDU_REG_IDENT		0x00
#define EDU_REG_LIVENESS	0x04
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_COUNT	0x90
#define EDU_REG_DMA_CMD		0x98

/* The device's buffer, as seen in its own address space. */
#define EDU_BUF_ADDR	0x40000
#define EDU_BUF_SIZE	4096

/*
 * QEMU 7.2 aborts the whole VM when a transfer touches the last byte of the
 * buffer, so every transfer must end before it.
 */
#define EDU_XFER_MAX	(EDU_BUF_SIZE - 1)

/* The device masks every DMA address with its dma_mask property. */
#define EDU_DMA_BITS	28

struct edu_device {
	struct pci_dev *pdev;
	struct device *dev;
	void __iomem *mmio;
};

int edu_suite_init(struct kunit_suite *suite);
void edu_suite_exit(struct kunit_suite *suite);
struct edu_device *edu_get(struct kunit *test);
struct edu_device *edu_bound(void);
struct device *edu_unbind(struct kunit *test);
int edu_rebind(struct device *dev);
int edu_swap_domain(const char *type);

int edu_dma(struct edu_device *edu, dma_addr_t addr, size_t buf_off,
	    size_t len, enum dma_data_direction dir);

void edu_count_syncs(struct iommu_domain *domain, bool on);
unsigned int edu_syncs(void);
void edu_syncs_reset(void);
unsigned int edu_lookups(void);
void edu_lookups_reset(void);
void edu_fail_map_nth(unsigned int n);
int edu_last_map_prot(void);
unsigned int edu_map_failures(void);
int edu_fail_every_allocation(struct kunit *test);
unsigned int edu_fail_nth(unsigned int n);

struct edu_storm;
struct edu_storm *edu_storm_start(unsigned long start, unsigned long pages);
int edu_storm_stop(struct edu_storm *s, unsigned long *unmaps, unsigned long *discards);

const char *edu_iommu_name(struct device *dev);
bool edu_expect_identity(void);
bool edu_expect_p2p_host_bridge(void);
const char *edu_expected_iommu(void);

#endif /* _IOMMU_TESTS_EDU_H */
