#include "cpu/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <iterator>

namespace fusedrnn::cpu {
namespace {

struct Candidate {
    KernelTable kernels;
    bool (*is_supported)();
};

bool always_supported() { return true; }

// Best first; faster sets (AVX-512, AVX2) go above the reference set, which runs everywhere and stays last.
const Candidate candidates[] = {
    {{"reference", gemm_nt_reference, lstm_step_reference, gru_step_reference, rnn_tanh_step_reference,
      rnn_relu_step_reference},
     always_supported},
};

const KernelTable& select_kernels() {
    const char* forced = std::getenv("FUSEDRNN_ISA");
    bool at_or_below_forced = forced == nullptr || *forced == '\0';
    for (const Candidate& candidate : candidates) {
        at_or_below_forced = at_or_below_forced || std::strcmp(candidate.kernels.isa_name, forced) == 0;
        if (at_or_below_forced && candidate.is_supported()) {
            return candidate.kernels;
        }
    }
    return candidates[std::size(candidates) - 1].kernels;
}

}  // namespace

const KernelTable& active_kernels() {
    static const KernelTable& kernels = select_kernels();
    return kernels;
}

}  // namespace fusedrnn::cpu
