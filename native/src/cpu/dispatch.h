#pragma once

#include "cpu/kernels.h"

namespace fusedrnn::cpu {

// The kernel set of this process, chosen once at first use: the best one the CPU supports, or the one
// named by the FUSEDRNN_ISA environment variable if that is supported (an unknown or unsupported name
// falls back to lower sets, down to "reference").
const KernelTable& active_kernels();

}  // namespace fusedrnn::cpu
