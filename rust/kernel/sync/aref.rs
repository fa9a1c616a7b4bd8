// SPDX-License-Identifier: GPL-2.0

//! Reference-counted objects, under the module path upstream drivers import.
//!
//! 6.12 defines [`ARef`] and [`AlwaysRefCounted`] in [`kernel::types`](crate::types); they are
//! the same items here.

pub use crate::types::{ARef, AlwaysRefCounted};
