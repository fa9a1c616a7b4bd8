// SPDX-License-Identifier: GPL-2.0

#include <linux/hmm.h>
#include <linux/mmap_lock.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>

struct page *rust_helper_pfn_to_page(unsigned long pfn)
{
	return pfn_to_page(pfn);
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
