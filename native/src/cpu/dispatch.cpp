#include "cpu/dispatch.h"

#include "common/cpu_features.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace fusedrnn::cpu {
namespace {

struct Candidate {
    KernelTable kernels;
    const char* alias;  // a second name FUSEDRNN_ISA accepts, or null
    bool (*is_supported)();
};

bool always_supported() { return true; }

#define FUSEDRNN_KERNEL_SET(isa, width)                                                                        \
    {#isa, width, gemm_nt_##isa, lstm_step_##isa, gru_step_##isa, rnn_tanh_step_##isa, rnn_relu_step_##isa}

// Best first; the reference set runs everywhere and stays last. (The flags of the vector sets also allow F16C,
// which the kernels do not use.)
const Candidate candidates[] = {
    {FUSEDRNN_KERNEL_SET(avx512, 8), nullptr, cpu_has_avx512},
    {FUSEDRNN_KERNEL_SET(avx2, 4), nullptr, cpu_has_avx2_fma},
    {FUSEDRNN_KERNEL_SET(reference, 1), "scalar", always_supported},
};
#undef FUSEDRNN_KERNEL_SET

bool is_named(const Candidate& candidate, const char* name) {
    return std::strcmp(candidate.kernels.isa_name, name) == 0 ||
           (candidate.alias != nullptr && std::strcmp(candidate.alias, name) == 0);
}

const KernelTable& supported_kernels(const char* forced, bool known) {
    bool at_or_below_forced = !known;  // unset, empty or unknown: the best supported set
    for (const Candidate& candidate : candidates) {
        at_or_below_forced = at_or_below_forced || is_named(candidate, forced);
        if (at_or_below_forced && candidate.is_supported()) {
            return candidate.kernels;
        }
    }
    return candidates[std::size(candidates) - 1].kernels;
}

const KernelTable& select_kernels() {
    const char* forced = std::getenv("FUSEDRNN_ISA");
    const bool requested = forced != nullptr && forced[0] != '\0';
    const bool known = requested && std::any_of(std::begin(candidates), std::end(candidates),
                                                [&](const Candidate& c) { return is_named(c, forced); });
    const KernelTable& kernels = supported_kernels(forced, known);
    if (requested && !known) {
        // Most likely a typo meant to force a lower set for a test or a comparison: say what runs instead. This
        // runs once per process (active_kernels), so the line is printed once.
        std::fprintf(stderr,
                     "fusedrnn: warning: FUSEDRNN_ISA=%s is not a kernel set (avx512, avx2, reference or scalar); "
                     "using %s\n",
                     forced, kernels.isa_name);
    }
    return kernels;
}

}  // namespace

const KernelTable& active_kernels() {
    static const KernelTable& kernels = select_kernels();
    return kernels;
}

}  // namespace fusedrnn::cpu
