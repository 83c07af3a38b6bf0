#pragma once

#include "cpu/kernels.h"

namespace fusedrnn::cpu {

// Name of the kernel set of this process, chosen once at first use: the best one the CPU supports ("avx512",
// "avx2", "reference"), or the one named by the FUSEDRNN_ISA environment variable ("scalar" is another name for
// "reference") if the CPU supports it, else the next lower supported one. An unknown name selects the best
// supported set, with one warning line on stderr naming the value and the set used.
const char* active_isa_name();

// The kernels of that set in precision T (float or double).
template <class T>
const KernelTable<T>& active_kernels();

// W of that set in a precision (an frnn_precision): the layout weights are packed in.
int64_t panel_width_for(int32_t precision);

}  // namespace fusedrnn::cpu
