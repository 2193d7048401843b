# C-level API of the builtin engine's queued loop (kernels/ioloop_queue.pyx), for the driver's threads.

cdef void* queue_worker(void* arg) noexcept nogil
