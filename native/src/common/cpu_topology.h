#pragma once

namespace fusedrnn {

// Physical cores of this machine (SMT siblings count once), from /sys/devices/system/cpu; falls back to
// std::thread::hardware_concurrency() where that is unreadable. At least 1. Computed once.
int physical_core_count();

}  // namespace fusedrnn
