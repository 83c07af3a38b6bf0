// The operations every CPU kernel set implements. One file per op and ISA (gemm_nt_reference.cpp,
// lstm_step_avx512.cpp ...); dispatch.cpp picks one set per process.
#pragma once

#include <cstdint>
#include <limits>

namespace fusedrnn::cpu {

// Precision contract of every kernel set (see "Precision" in native/README.md): weights are float32 in memory
// and are widened to double as they are loaded (_mm512_cvtps_pd and the like); every product, sum, bias,
// activation and state is double. Only y, hn and cn are rounded to float32, when written.

// How y, hn and cn are rounded to float32: every NaN becomes the canonical quiet NaN (0x7fc00000, NumPy's), since which
// NaN operand an instruction keeps differs between kernel sets and tile shapes, and an output must not (the managed
// backend writes the same). The vector kernels' store_narrow does the same per lane.
inline float round_to_float(double value) {
    return value != value ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(value);
}

// Weight layout (see common/weight_packing.h): the G*H gate rows of a matrix are ordered (unit block j, gate g,
// lane l) for hidden unit j*W + l, W = KernelTable::panel_width, H padded up to a multiple of W with zero rows;
// the G*W rows of a unit block are stored k-major, [depth][G][W].

// C[m, n] = bias[n] + sum_k A[m, k] * B[n, k] for every row m < rows and column n < blocks*G*W.
// A rows are `depth` doubles apart (the layer input), C rows `c_stride`; B is `blocks` unit blocks [depth][G][W].
using GemmNtFn = void (*)(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const double* a,
                          const float* b, const double* bias, double* c, int64_t c_stride);

// One time step t of one layer and direction over the whole batch, for hidden units [unit_begin, unit_end):
// recurrent product + bias + activations + state update in one pass, gates never stored. Row b is active when
// lengths is null or t < lengths[b]; an inactive row keeps its state (h_next = h_prev, c untouched) and writes
// zeros to its output. Threads split the units (unit_begin a multiple of W); with a projection every h depends
// on every unit, so a projection step always gets the whole range.
struct RecurrentStep {
    int64_t batch;
    int64_t hidden_size;   // H
    int64_t output_size;   // Hout: width of h (proj_size with projection, else H)
    int64_t unit_begin;
    int64_t unit_end;
    int64_t time;          // t, compared with lengths
    const int32_t* lengths;

    const double* input_projection;   // row b at + b * input_projection_stride: [G*Hpadded] in weight order,
    int64_t input_projection_stride;  // biases folded
    const float* weight_hh;           // [G*Hpadded, Hout] in unit blocks
    const double* new_gate_bias;      // GRU: b_hn [Hpadded]; unused otherwise
    const float* weight_hr;           // LSTM projection: [Hout, H]; null without projection

    const double* h_prev;        // [B, Hout]
    double* h_next;              // [B, Hout]
    double* c;                   // LSTM: [B, H], updated in place; unused otherwise
    double* projection_scratch;  // LSTM projection: [B, H]; unused otherwise
    // Where h goes, row b at + b * output_stride, Hout values; at most one is set, none = not written.
    double* layer_output;        // a layer below the last: the next layer's input, kept in double
    float* y;                    // the last layer: the caller's y, rounded to float32
    int64_t output_stride;
};

using RecurrentStepFn = void (*)(const RecurrentStep& step);

struct KernelTable {
    const char* isa_name;
    int64_t panel_width;  // W: the weight layout these kernels read (doubles per vector register)
    GemmNtFn gemm_nt;
    RecurrentStepFn lstm_step;
    RecurrentStepFn gru_step;
    RecurrentStepFn rnn_tanh_step;
    RecurrentStepFn rnn_relu_step;
};

#define FUSEDRNN_DECLARE_KERNEL_SET(isa)                                                                       \
    void gemm_nt_##isa(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const double* a,       \
                       const float* b, const double* bias, double* c, int64_t c_stride);                         \
    void lstm_step_##isa(const RecurrentStep& step);                                                           \
    void gru_step_##isa(const RecurrentStep& step);                                                            \
    void rnn_tanh_step_##isa(const RecurrentStep& step);                                                       \
    void rnn_relu_step_##isa(const RecurrentStep& step);

// reference: plain C++, baseline x86-64 (or any target), the definition of correct; W = 1.
FUSEDRNN_DECLARE_KERNEL_SET(reference)
// avx2 (AVX2 + FMA, W = 4) and avx512 (AVX-512F, W = 8): one template per op in cpu/*_kernel.h.
FUSEDRNN_DECLARE_KERNEL_SET(avx2)
FUSEDRNN_DECLARE_KERNEL_SET(avx512)
#undef FUSEDRNN_DECLARE_KERNEL_SET

}  // namespace fusedrnn::cpu
