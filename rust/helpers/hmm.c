// SPDX-License-Identifier: GPL-2.0

#include <linux/build_bug.h>
#include <linux/hmm.h>

/* rust/kernel/hmm/pfn.rs spells these out: bindgen cannot translate them. */
static_assert(HMM_PFN_VALID == 1UL << (BITS_PER_LONG - 1));
static_assert(HMM_PFN_WRITE == 1UL << (BITS_PER_LONG - 2));
static_assert(HMM_PFN_ERROR == 1UL << (BITS_PER_LONG - 3));
static_assert(HMM_PFN_DMA_MAPPED == 1UL << (BITS_PER_LONG - 4));
static_assert(HMM_PFN_P2PDMA == 1UL << (BITS_PER_LONG - 5));
static_assert(HMM_PFN_P2PDMA_BUS == 1UL << (BITS_PER_LONG - 6));
static_assert(1UL << HMM_PFN_ORDER_SHIFT == 1UL << (BITS_PER_LONG - 11));

struct page *rust_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
}
