#pragma once

namespace fusedrnn {

// Physical cores of this machine (SMT siblings count once), from /sys/devices/system/cpu; falls back to
// std::thread::hardware_concurrency() where that is unreadable. At least 1. Computed once.
int physical_core_count();

// Logical processors online (std::thread::hardware_concurrency(), 1 where unknown): the most threads that can run
// at once, hence the cap on frnn_model_spec.num_threads. Computed once.
int logical_processor_count();

}  // namespace fusedrnn
