// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the two-step IOVA DMA API, which dma_iova.rs implements: a
 * built-in Rust object cannot export its symbols itself.
 */

#include <linux/build_bug.h>
#include <linux/dma-mapping.h>
#include <linux/export.h>

/* dma_iova.rs spells these out: bindgen cannot translate them. */
static_assert(DMA_IOVA_USE_SWIOTLB == 1ULL << 63);
static_assert(DMA_IOVA_KEEP == 1ULL << 62);
static_assert(DMA_MAPPING_ERROR == ~0ULL);

EXPORT_SYMBOL_GPL(dma_iova_try_alloc);
EXPORT_SYMBOL_GPL(dma_iova_free);
EXPORT_SYMBOL_GPL(dma_iova_link);
EXPORT_SYMBOL_GPL(dma_iova_sync);
EXPORT_SYMBOL_GPL(dma_iova_unlink);
EXPORT_SYMBOL_GPL(dma_iova_destroy);
EXPORT_SYMBOL_GPL(dma_need_unmap);
