// The operations every CPU kernel set implements. One file per op and ISA (gemm_reference.cpp,
// later lstm_step_avx512.cpp ...); dispatch.cpp picks one set per process.
#pragma once

#include <cstdint>

namespace fusedrnn::cpu {

// Precision contract of every kernel set (see "Precision" in native/README.md): weights are float32 in memory
// and are widened to double as they are loaded (_mm512_cvtps_pd and the like); every product, sum, bias,
// activation and state is double. Only y, hn and cn are rounded to float32, when written.

// C[m, n] = bias[n] + sum_k A[m, k] * B[n, k] for every row m < rows and column n < columns.
// A rows are `depth` doubles apart (the layer input), B is [columns, depth] (packed float32 weights), C is dense.
using GemmNtFn = void (*)(int64_t rows, int64_t columns, int64_t depth, const double* a, const float* b,
                          const double* bias, double* c);

// One time step t of one layer and direction over the whole batch: recurrent product + bias + activations +
// state update in one pass per hidden unit. Row b is active when lengths is null or t < lengths[b]; an
// inactive row keeps its state (h_next = h_prev, c untouched) and writes zeros to its output.
struct RecurrentStep {
    int64_t batch;
    int64_t hidden_size;   // H
    int64_t output_size;   // Hout: width of h (proj_size with projection, else H)
    int64_t time;          // t, compared with lengths
    const int32_t* lengths;

    const double* input_projection;   // row b at + b * input_projection_stride: [H*G] unit-interleaved, biases folded
    int64_t input_projection_stride;
    const float* weight_hh;           // [H*G, Hout] unit-interleaved
    const double* new_gate_bias;      // GRU: b_hn [H]; unused otherwise
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
    GemmNtFn gemm_nt;
    RecurrentStepFn lstm_step;
    RecurrentStepFn gru_step;
    RecurrentStepFn rnn_tanh_step;
    RecurrentStepFn rnn_relu_step;
};

// Reference kernels: plain C++, baseline x86-64 (or any target), the definition of correct.
void gemm_nt_reference(int64_t rows, int64_t columns, int64_t depth, const double* a, const float* b,
                       const double* bias, double* c);
void lstm_step_reference(const RecurrentStep& step);
void gru_step_reference(const RecurrentStep& step);
void rnn_tanh_step_reference(const RecurrentStep& step);
void rnn_relu_step_reference(const RecurrentStep& step);

}  // namespace fusedrnn::cpu
