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

// The participants a call of an object created with `num_threads` (frnn_model_spec's or frnn_dense_spec's) has at
// most: num_threads capped at thread_limit() (more than can run at once would leave every barrier waiting for one that
// is not running; the spec keeps the value as given), 0 = one per physical core.
int resolve_thread_count(int num_threads);

}  // namespace fusedrnn
