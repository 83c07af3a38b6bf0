#include "cpu/dispatch.h"

#include "cpu/cpu_features.h"

#include <fusedrnn.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace fusedrnn::cpu {
namespace {

// One kernel set: its kernels in both precisions.
struct Candidate {
    const char* isa_name;
    const char* alias;  // a second name FUSEDRNN_ISA accepts, or null
    bool (*is_supported)();
    KernelTable<float> f32;
    KernelTable<double> f64;
};

bool always_supported() { return true; }

#define FUSEDRNN_KERNEL_TABLE(datatype, isa, width)                                                            \
    {#isa,                                width,                                                              \
     datatype##_gemm_nt_##isa,            datatype##_lstm_step_##isa,                                         \
     datatype##_gru_step_##isa,           datatype##_rnn_tanh_step_##isa,                                     \
     datatype##_rnn_relu_step_##isa,      datatype##_lstm_variant_step_##isa,                                 \
     datatype##_gru_variant_step_##isa,   datatype##_gru_reset_before_step_##isa,                             \
     datatype##_rnn_variant_step_##isa,   datatype##_dense_activation_##isa}

// Best first; the reference set runs everywhere and stays last. W is the values per register in each precision.
// (The flags of the vector sets also allow F16C, which the kernels do not use.)
const Candidate candidates[] = {
    {"avx512", nullptr, cpu_has_avx512, FUSEDRNN_KERNEL_TABLE(f32, avx512, 16), FUSEDRNN_KERNEL_TABLE(f64, avx512, 8)},
    {"avx2", nullptr, cpu_has_avx2_fma, FUSEDRNN_KERNEL_TABLE(f32, avx2, 8), FUSEDRNN_KERNEL_TABLE(f64, avx2, 4)},
    {"reference", "scalar", always_supported, FUSEDRNN_KERNEL_TABLE(f32, reference, 1),
     FUSEDRNN_KERNEL_TABLE(f64, reference, 1)},
};
#undef FUSEDRNN_KERNEL_TABLE

bool is_named(const Candidate& candidate, const char* name) {
    return std::strcmp(candidate.isa_name, name) == 0 ||
           (candidate.alias != nullptr && std::strcmp(candidate.alias, name) == 0);
}

const Candidate& supported_candidate(const char* forced, bool known) {
    bool at_or_below_forced = !known;  // unset, empty or unknown: the best supported set
    for (const Candidate& candidate : candidates) {
        at_or_below_forced = at_or_below_forced || is_named(candidate, forced);
        if (at_or_below_forced && candidate.is_supported()) {
            return candidate;
        }
    }
    return candidates[std::size(candidates) - 1];
}

const Candidate& select_candidate() {
    const char* forced = std::getenv("FUSEDRNN_ISA");
    const bool requested = forced != nullptr && forced[0] != '\0';
    const bool known = requested && std::any_of(std::begin(candidates), std::end(candidates),
                                                [&](const Candidate& c) { return is_named(c, forced); });
    const Candidate& chosen = supported_candidate(forced, known);
    if (requested && !known) {
        // Most likely a typo meant to force a lower set for a test or a comparison: say what runs instead. This
        // runs once per process (active_candidate), so the line is printed once.
        std::fprintf(stderr,
                     "fusedrnn: warning: FUSEDRNN_ISA=%s is not a kernel set (avx512, avx2, reference or scalar); "
                     "using %s\n",
                     forced, chosen.isa_name);
    }
    return chosen;
}

const Candidate& active_candidate() {
    static const Candidate& chosen = select_candidate();
    return chosen;
}

}  // namespace

const char* active_isa_name() { return active_candidate().isa_name; }

template <>
const KernelTable<float>& active_kernels<float>() {
    return active_candidate().f32;
}

template <>
const KernelTable<double>& active_kernels<double>() {
    return active_candidate().f64;
}

int64_t panel_width_for(int32_t precision) {
    return precision == FRNN_PRECISION_FLOAT64 ? active_kernels<double>().panel_width
                                               : active_kernels<float>().panel_width;
}

}  // namespace fusedrnn::cpu
