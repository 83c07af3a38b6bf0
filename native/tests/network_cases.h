// Small networks with their inputs, shared by the suites that compare one way of running a call with another
// (threads in threading_test.cpp, workspace chunks in chunking_test.cpp): the model and the data are the same
// for every variant, so any difference in the outputs is the variant's.
#pragma once

#include "test_support.h"

#include <random>
#include <vector>

namespace fusedrnn::test {

struct NetworkCase {
    const char* name;
    frnn_cell_kind kind;
    int32_t input_size, hidden_size, num_layers, num_directions, proj_size;
    bool batch_first;
    int32_t seq_len, batch;
    std::vector<int32_t> lengths;
};

inline void PrintTo(const NetworkCase& c, std::ostream* stream) { *stream << c.name; }

// Lengths 1..seq_len over and over, in no particular order (`stride` sets the order).
inline std::vector<int32_t> mixed_lengths(int32_t seq_len, int32_t batch, int32_t stride = 7) {
    std::vector<int32_t> lengths(static_cast<std::size_t>(batch));
    for (int32_t row = 0; row < batch; ++row) {
        lengths[static_cast<std::size_t>(row)] = 1 + (row * stride) % seq_len;
    }
    return lengths;
}

struct Outputs {
    std::vector<float> y, hn, cn;
};

inline frnn_model_spec spec_with_threads(const NetworkCase& c, int32_t threads) {
    frnn_model_spec spec = make_spec(c.kind, c.input_size, c.hidden_size, c.num_layers, c.num_directions, c.proj_size);
    spec.num_threads = threads;
    return spec;
}

// x, h0 and c0 of the case from a fixed seed; y, hn and cn filled with -7 (an output left unwritten shows).
inline ForwardBuffers inputs_for(const NetworkCase& c) {
    std::mt19937 generator(77);
    const int32_t out = c.proj_size > 0 ? c.proj_size : c.hidden_size;
    const int32_t states = c.num_layers * c.num_directions * c.batch;
    ForwardBuffers buffers = ForwardBuffers::shaped(c.seq_len, c.batch, c.batch_first, c.lengths);
    buffers.x = random_floats(generator, static_cast<std::size_t>(c.seq_len * c.batch * c.input_size), 1.0f);
    buffers.h0 = random_floats(generator, static_cast<std::size_t>(states * out), 0.5f);
    buffers.y.assign(static_cast<std::size_t>(c.seq_len * c.batch * c.num_directions * out), -7.0f);
    buffers.hn.assign(buffers.h0.size(), -7.0f);
    if (c.kind == FRNN_CELL_LSTM) {
        buffers.c0 = random_floats(generator, static_cast<std::size_t>(states * c.hidden_size), 0.5f);
        buffers.cn.assign(buffers.c0.size(), -7.0f);
    }
    return buffers;
}

// Runs `repeats` calls of the case on one workspace (a repeat reuses the workspace as the first call left it).
inline Outputs run_calls(const frnn_model* model, frnn_workspace* workspace, const NetworkCase& c, int repeats) {
    ForwardBuffers buffers = inputs_for(c);
    for (int repeat = 0; repeat < repeats; ++repeat) {
        frnn_forward_args args = buffers.args();
        EXPECT_EQ(frnn_model_forward(model, workspace, &args), FRNN_STATUS_OK) << frnn_last_error();
    }
    return {buffers.y, buffers.hn, buffers.cn};
}

}  // namespace fusedrnn::test
