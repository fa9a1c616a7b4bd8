# SPDX-License-Identifier: GPL-2.0
#
# The two-step IOVA DMA API, P2PDMA state and HMM DMA helpers for Linux 6.12,
# in Rust.  This repository is an overlay on Debian's linux-source-6.12; see
# README.md.
#
#   make test      build the kernel and run every KUnit suite under QEMU
#   make run       build the kernel and boot it in QEMU to show what it does
#   make patches   export our change as a git format-patch series (out/patches)
#   make check     rustfmt, clippy and checkpatch --strict on our change
#   make bench     the two-step API against dma_map_page and dma_map_sg

BUILD ?= $(CURDIR)/build
export BUILD

.PHONY: all setup tree kernel test run patches check bench clean

all: test

setup:
	@scripts/setup

tree: setup
	@scripts/assemble

kernel: tree
	@scripts/kunit build

test: tree
	@scripts/kunit

run: kernel
	@scripts/run

patches: tree
	@rm -rf out/patches
	@git -C $(BUILD)/linux format-patch -q --no-signature --zero-commit \
		-o $(CURDIR)/out/patches base..HEAD
	@ls out/patches

check: kernel
	@scripts/check

bench: kernel
	@scripts/bench

clean:
	rm -rf $(BUILD) out
