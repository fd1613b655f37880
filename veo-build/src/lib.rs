//! Build VE kernels.
