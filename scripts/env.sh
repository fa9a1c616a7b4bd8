# SPDX-License-Identifier: GPL-2.0
#
# The build environment, sourced by the other scripts.  The kernel is built
# with Debian's clang/LLVM 19 and Debian's Rust 1.85 (whose `core` source
# the kernel compiles against); any rustup toolchain first on PATH is never
# used for the kernel.

BUILD=${BUILD:-$REPO/build}
TREE=$BUILD/linux
KBUILD=$BUILD/kunit
JOBS=${JOBS:-$(nproc)}

export PATH=/usr/lib/llvm-19/bin:/usr/local/bin:$PATH
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

KUNIT_MAKE_OPTIONS=(
	--make_options=LLVM=1
	--make_options=RUSTC=/usr/bin/rustc
	--make_options=RUSTDOC=/usr/bin/rustdoc
	--make_options=HOSTRUSTC=/usr/bin/rustc
)
