// The operations every CPU kernel set implements, in each precision. One file per op and ISA (gemm_nt_avx512.cpp,
// lstm_step_avx512.cpp ...) defines that op for both precisions, named <datatype>_<op>_<isa> as XNNPACK names its
// microkernels (f32_lstm_step_avx512, f64_gemm_nt_avx2); dispatch.cpp picks one set per precision and process.
#pragma once

#include "common/cell_math.h"

#include <cstdint>
#include <limits>

namespace fusedrnn::cpu {

// Precision contract of every kernel set (see "Precision" in native/README.md). T is the arithmetic type:
//  - float (FRNN_PRECISION_FLOAT32): weights, inputs, sums, activations and state in float32, FMA throughout;
//  - double (FRNN_PRECISION_FLOAT64): weights are float32 in memory and widened to double as they are loaded; every
//    product, sum, bias, activation and state is double. Only y, hn and cn are rounded to float32, when written.

// How y, hn and cn are stored as float32: every NaN becomes the canonical quiet NaN (0x7fc00000, NumPy's), since which
// NaN operand an instruction keeps differs between kernel sets and tile shapes, and an output must not (the managed
// backend writes the same). The vector kernels' store_narrow does the same per lane.
template <class T>
float round_to_float(T value) {
    return value != value ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(value);
}

// Weight layout (see cpu/weight_packing.h): the G*H gate rows of a matrix are ordered (unit block j, gate g,
// lane l) for hidden unit j*W + l, W = KernelTable::panel_width, H padded up to a multiple of W with zero rows;
// the G*W rows of a unit block are stored k-major, [depth][G][W].

// C[m, n] = bias[n] + sum_k A[m, k] * B[n, k] for every row m < rows and column n < blocks*G*W.
// A rows are `depth` values apart (the layer input), C rows `c_stride`; B is `blocks` unit blocks [depth][G][W].
template <class T>
using GemmNtFn = void (*)(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const T* a,
                          const float* b, const T* bias, T* c, int64_t c_stride);

// A dense layer's activation (an frnn_dense_activation) on one row: values [count], W x + b in T, which the kernel may
// overwrite, into out [count] in float32 (round_to_float's NaN rule). Softmax and log-softmax subtract the row's
// maximum first (NaNs aside) and sum in one fixed order, so a row's result does not depend on the thread that runs it.
template <class T>
using DenseActivationFn = void (*)(int32_t activation, T* values, int64_t count, float* out);

// One time step t of one layer and direction over the whole batch, for hidden units [unit_begin, unit_end):
// recurrent product + bias + activations + state update in one pass, gates never stored. Row b is active when
// lengths is null or t < lengths[b]; an inactive row keeps its state (h_next = h_prev, c untouched) and writes
// zeros to its output. Threads split the units (unit_begin a multiple of W); with a projection every h depends
// on every unit, so a projection step always gets the whole range.
template <class T>
struct RecurrentStep {
    int64_t batch;
    int64_t hidden_size;   // H
    int64_t output_size;   // Hout: width of h (proj_size with projection, else H)
    int64_t unit_begin;
    int64_t unit_end;
    int64_t time;          // t, compared with lengths
    const int32_t* lengths;

    const T* input_projection;        // row b at + b * input_projection_stride: [G*Hpadded] in weight order,
    int64_t input_projection_stride;  // biases folded
    const float* weight_hh;           // [G*Hpadded, Hout] in unit blocks
    const T* new_gate_bias;           // GRU: b_hn [Hpadded]; unused otherwise
    const float* weight_hr;           // LSTM projection: [Hout, H]; null without projection
    // Cell variants (the *_variant_step and gru_reset_before_step kernels) only:
    const CellRules* rules;
    const T* peepholes;               // LSTM with peepholes: P_i, P_f, P_o, each [Hpadded] (zero padded); else null
    int64_t peephole_stride;          // Hpadded
    const float* weight_hn;           // GRU reset before the product: R_n [Hpadded, Hout] in unit blocks of one gate,
                                      // while weight_hh holds R_r and R_z in blocks of two
    T* gate_scratch;                  // GRU reset before the product: [B, H], z of the step

    const T* h_prev;        // [B, Hout]
    T* h_next;              // [B, Hout]
    T* c;                   // LSTM: [B, H], updated in place; unused otherwise
    T* projection_scratch;  // LSTM projection: [B, H], the cell outputs; GRU reset before the product: [B, H], r * h
    // Where h goes, row b at + b * output_stride, Hout values; at most one is set, none = not written.
    T* layer_output;        // a layer below the last: the next layer's input, kept in T
    float* y;               // the last layer: the caller's y, rounded to float32
    int64_t output_stride;
};

template <class T>
using RecurrentStepFn = void (*)(const RecurrentStep<T>& step);

template <class T>
struct KernelTable {
    const char* isa_name;
    int64_t panel_width;  // W: the weight layout these kernels read (T values per vector register)
    GemmNtFn<T> gemm_nt;
    RecurrentStepFn<T> lstm_step;
    RecurrentStepFn<T> gru_step;
    RecurrentStepFn<T> rnn_tanh_step;
    RecurrentStepFn<T> rnn_relu_step;
    // Every other cell the descriptor allows (activations, clip, peepholes, coupled gate, GRU reset placement):
    RecurrentStepFn<T> lstm_variant_step;
    RecurrentStepFn<T> gru_variant_step;        // reset after the product
    RecurrentStepFn<T> gru_reset_before_step;   // reset before the product: two passes over the units
    RecurrentStepFn<T> rnn_variant_step;
    DenseActivationFn<T> dense_activation;
};

#define FUSEDRNN_DECLARE_KERNELS(datatype, T, isa)                                                             \
    void datatype##_gemm_nt_##isa(int64_t rows, int64_t blocks, int64_t gate_count, int64_t depth, const T* a,  \
                                  const float* b, const T* bias, T* c, int64_t c_stride);                       \
    void datatype##_lstm_step_##isa(const RecurrentStep<T>& step);                                             \
    void datatype##_gru_step_##isa(const RecurrentStep<T>& step);                                              \
    void datatype##_rnn_tanh_step_##isa(const RecurrentStep<T>& step);                                         \
    void datatype##_rnn_relu_step_##isa(const RecurrentStep<T>& step);                                         \
    void datatype##_lstm_variant_step_##isa(const RecurrentStep<T>& step);                                     \
    void datatype##_gru_variant_step_##isa(const RecurrentStep<T>& step);                                      \
    void datatype##_gru_reset_before_step_##isa(const RecurrentStep<T>& step);                                 \
    void datatype##_rnn_variant_step_##isa(const RecurrentStep<T>& step);                                     \
    void datatype##_dense_activation_##isa(int32_t activation, T* values, int64_t count, float* out);
#define FUSEDRNN_DECLARE_KERNEL_SET(isa)                                                                       \
    FUSEDRNN_DECLARE_KERNELS(f32, float, isa)                                                                  \
    FUSEDRNN_DECLARE_KERNELS(f64, double, isa)

// reference: plain C++, baseline x86-64 (or any target), the definition of correct; W = 1.
FUSEDRNN_DECLARE_KERNEL_SET(reference)
// avx2 (AVX2 + FMA; W = 8 floats or 4 doubles) and avx512 (AVX-512F; W = 16 or 8): one template per op in
// cpu/*_kernel.h over the traits of simd_<isa>.h.
FUSEDRNN_DECLARE_KERNEL_SET(avx2)
FUSEDRNN_DECLARE_KERNEL_SET(avx512)
#undef FUSEDRNN_DECLARE_KERNEL_SET
#undef FUSEDRNN_DECLARE_KERNELS

}  // namespace fusedrnn::cpu
