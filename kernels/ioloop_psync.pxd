# C-level API of the builtin engine's psync loop (kernels/ioloop_psync.pyx), for the driver's threads.

cdef void* psync_worker(void* arg) noexcept nogil
