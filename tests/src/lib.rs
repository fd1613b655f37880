//! Shared helpers of the integration tests.

/// The path of the kernel library built by this package's build script.
pub const KERNELS: &str = env!("VEO_LIB_tests");
