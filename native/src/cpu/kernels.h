// The operations every CPU kernel set implements. One file per op and ISA (gemm_reference.cpp,
// later lstm_step_avx512.cpp ...); dispatch.cpp picks one set per process.
#pragma once

#include <cstdint>

namespace fusedrnn::cpu {

// C[m, n] = bias[n] + sum_k A[m, k] * B[n, k] for every row m < rows and column n < columns.
// A rows are `depth` floats apart (the layer input), B is [columns, depth] (packed weights), C is dense.
using GemmNtFn = void (*)(int64_t rows, int64_t columns, int64_t depth, const float* a, const float* b,
                          const float* bias, float* c);

// One time step t of one layer and direction over the whole batch: recurrent product + bias + activations +
// state update in one pass per hidden unit. Row b is active when lengths is null or t < lengths[b]; an
// inactive row keeps its state (h_next = h_prev, c untouched) and writes zeros to its output.
struct RecurrentStep {
    int64_t batch;
    int64_t hidden_size;   // H
    int64_t output_size;   // Hout: width of h (proj_size with projection, else H)
    int64_t time;          // t, compared with lengths
    const int32_t* lengths;

    const float* input_projection;    // row b at + b * input_projection_stride: [H*G] unit-interleaved, biases folded
    int64_t input_projection_stride;
    const float* weight_hh;           // [H*G, Hout] unit-interleaved
    const float* new_gate_bias;       // GRU: b_hn [H]; unused otherwise
    const float* weight_hr;           // LSTM projection: [Hout, H]; null without projection

    const float* h_prev;  // [B, Hout]
    float* h_next;        // [B, Hout]
    float* c;             // LSTM: [B, H], updated in place; unused otherwise
    float* projection_scratch;  // LSTM projection: [B, H]; unused otherwise
    float* output;        // row b at + b * output_stride, Hout floats; null = not written
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
void gemm_nt_reference(int64_t rows, int64_t columns, int64_t depth, const float* a, const float* b,
                       const float* bias, float* c);
void lstm_step_reference(const RecurrentStep& step);
void gru_step_reference(const RecurrentStep& step);
void rnn_tanh_step_reference(const RecurrentStep& step);
void rnn_relu_step_reference(const RecurrentStep& step);

}  // namespace fusedrnn::cpu
