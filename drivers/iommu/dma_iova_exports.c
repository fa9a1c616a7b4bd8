// SPDX-License-Identifier: GPL-2.0
/*
 * Exports of the two-step IOVA DMA API, which dma_iova.rs implements: a
 * built-in Rust object cannot export its symbols itself.
 */

#include <linux/dma-mapping.h>
#include <linux/export.h>

EXPORT_SYMBOL_GPL(dma_iova_try_alloc);
EXPORT_SYMBOL_GPL(dma_iova_free);
EXPORT_SYMBOL_GPL(dma_iova_link);
EXPORT_SYMBOL_GPL(dma_iova_sync);
EXPORT_SYMBOL_GPL(dma_iova_unlink);
EXPORT_SYMBOL_GPL(dma_iova_destroy);
EXPORT_SYMBOL_GPL(dma_need_unmap);
