("kernels", "/nonexistent/libkernels.so", b"" as &[u8])
