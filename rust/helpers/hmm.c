// SPDX-License-Identifier: GPL-2.0

#include <linux/build_bug.h>
#include <linux/hmm.h>
#include <linux/mmap_lock.h>
#include <linux/mmu_notifier.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>

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

struct mm_struct *rust_helper_current_mm(void)
{
	return current->mm;
}

bool rust_helper_mmget_not_zero(struct mm_struct *mm)
{
	return mmget_not_zero(mm);
}

void rust_helper_mmap_read_lock(struct mm_struct *mm)
{
	mmap_read_lock(mm);
}

void rust_helper_mmap_read_unlock(struct mm_struct *mm)
{
	mmap_read_unlock(mm);
}

#ifdef CONFIG_MMU_NOTIFIER
bool rust_helper_mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
					 unsigned long seq)
{
	return mmu_interval_read_retry(interval_sub, seq);
}

void rust_helper_mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
				      unsigned long cur_seq)
{
	mmu_interval_set_seq(interval_sub, cur_seq);
}

bool rust_helper_mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return mmu_notifier_range_blockable(range);
}
#endif
