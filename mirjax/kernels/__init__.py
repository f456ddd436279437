"""Native CPU kernels that XLA CPU calls through its FFI (built on first use)."""
