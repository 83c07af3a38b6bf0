#pragma once

namespace fusedrnn {

// Physical cores of this machine (SMT siblings count once), from /sys/devices/system/cpu; falls back to
// std::thread::hardware_concurrency() where that is unreadable. At least 1. Computed once.
int physical_core_count();

// Logical processors online (std::thread::hardware_concurrency(), 1 where unknown): the most threads that can run
// at once. Computed once.
int logical_processor_count();

// The cap on frnn_model_spec.num_threads: logical_processor_count(), or the positive integer FUSEDRNN_THREAD_LIMIT
// names (the tests raise it to cover 3-way splits on a 2-core machine; a bad value warns once and is ignored).
// Read once.
int thread_limit();

}  // namespace fusedrnn
