// SPDX-License-Identifier: GPL-2.0

//! Types whose values are plain bytes, as upstream names them.
//!
//! 6.12 defines [`FromBytes`] and [`AsBytes`] in [`kernel::types`](crate::types); they are
//! the same traits here, under the module path that upstream drivers import.

pub use crate::types::{AsBytes, FromBytes};
