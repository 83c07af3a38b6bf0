#include "cpu/forward.h"

#include "cpu/dispatch.h"

#include <algorithm>
#include <cstddef>
#include <limits>
#include <new>

namespace fusedrnn::cpu {
namespace {

// Scratch of one forward call, carved from the workspace arena. All of it is double: x is widened once on entry
// and only y, hn and cn are rounded back to float32 (see "Precision" in native/README.md).
struct ForwardBuffers {
    double* input;              // [T*B, input_size]: x, widened
    double* input_projection;   // [T*B, G*H]: one layer and direction's input projection for all steps
    double* layer_outputs[2];   // [T*B, D*Hout]: outputs of the layers below the last, ping-ponged
    double* hidden[2];          // [B, Hout]: h before and after a step
    double* cell;               // [B, H]
    double* projection_scratch; // [B, H]
};

ForwardBuffers carve_buffers(frnn_workspace& workspace, const ModelShape& model, const ForwardShape& call) {
    // Each buffer starts on a 64-byte boundary so vector kernels can use aligned loads.
    constexpr std::size_t doubles_per_line = AlignedDoubles::alignment / sizeof(double);
    std::size_t total = 0;
    auto place = [&](int64_t count) {
        const std::size_t offset = total;
        const std::size_t lines = (static_cast<std::size_t>(count) + doubles_per_line - 1) / doubles_per_line;
        if (lines > (std::numeric_limits<std::size_t>::max() - total) / doubles_per_line) {
            throw std::bad_alloc();  // more than any address space holds
        }
        total += lines * doubles_per_line;
        return offset;
    };
    const int64_t rows = call.seq_len * call.batch;
    const int64_t intermediate_outputs = std::min<int64_t>(model.num_layers - 1, 2);
    const std::size_t input_at = place(rows * model.input_size);
    const std::size_t projection_at = place(rows * model.gate_rows());
    std::size_t layer_output_at[2] = {0, 0};
    for (int64_t index = 0; index < intermediate_outputs; ++index) {
        layer_output_at[index] = place(rows * model.num_directions * model.output_size);
    }
    const std::size_t hidden_at[2] = {place(call.batch * model.output_size), place(call.batch * model.output_size)};
    const std::size_t cell_at = place(model.has_cell_state() ? call.batch * model.hidden_size : 0);
    const std::size_t scratch_at = place(model.has_projection ? call.batch * model.hidden_size : 0);

    double* base = workspace.reserve(total);
    return {base + input_at,
            base + projection_at,
            {base + layer_output_at[0], base + layer_output_at[1]},
            {base + hidden_at[0], base + hidden_at[1]},
            base + cell_at,
            base + scratch_at};
}

RecurrentStepFn step_kernel(const KernelTable& kernels, frnn_cell_kind kind) {
    switch (kind) {
    case FRNN_CELL_LSTM: return kernels.lstm_step;
    case FRNN_CELL_GRU: return kernels.gru_step;
    case FRNN_CELL_RNN_TANH: return kernels.rnn_tanh_step;
    case FRNN_CELL_RNN_RELU: return kernels.rnn_relu_step;
    }
    return nullptr;  // unreachable: the spec was validated
}

void widen(const float* source, int64_t count, double* destination) {
    for (int64_t index = 0; index < count; ++index) {
        destination[index] = static_cast<double>(source[index]);
    }
}

// Widens the initial state slice of one layer and direction, or zeros when the caller gave none.
void load_state(const float* initial, int64_t slice, int64_t slice_size, double* state) {
    if (initial != nullptr) {
        widen(initial + slice * slice_size, slice_size, state);
    } else {
        std::fill_n(state, slice_size, 0.0);
    }
}

// Rounds the final state slice to float32 into the caller's buffer, if there is one.
void store_state(const double* state, int64_t slice, int64_t slice_size, float* final_state) {
    if (final_state != nullptr) {
        float* destination = final_state + slice * slice_size;
        for (int64_t index = 0; index < slice_size; ++index) {
            destination[index] = static_cast<float>(state[index]);
        }
    }
}

}  // namespace

void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& call,
             const frnn_forward_args& args) {
    const KernelTable& kernels = active_kernels();
    const ModelShape& shape = model.shape;
    const RecurrentStepFn step_function = step_kernel(kernels, shape.cell_kind);
    ForwardBuffers buffers = carve_buffers(workspace, shape, call);

    const int64_t rows = call.seq_len * call.batch;
    const int64_t gate_rows = shape.gate_rows();
    const int64_t output_width = shape.num_directions * shape.output_size;
    // x, y and the buffers between layers share one layout; row (t, b) is t*time_step + b*batch_step.
    const int64_t time_step = call.batch_first ? 1 : call.batch;
    const int64_t batch_step = call.batch_first ? call.seq_len : 1;
    const int64_t hidden_slice = call.batch * shape.output_size;
    const int64_t cell_slice = call.batch * shape.hidden_size;

    widen(args.x, rows * shape.input_size, buffers.input);
    const double* layer_input = buffers.input;
    for (int64_t layer = 0; layer < shape.num_layers; ++layer) {
        const bool is_last_layer = layer == shape.num_layers - 1;
        // Layers below the last write the next layer's input in double; the last one writes y (maybe absent).
        double* layer_output = is_last_layer ? nullptr : buffers.layer_outputs[layer % 2];
        float* y = is_last_layer ? args.y : nullptr;
        for (int64_t direction = 0; direction < shape.num_directions; ++direction) {
            const int64_t slice = layer * shape.num_directions + direction;
            const PackedLayer& weights = model.layers[static_cast<std::size_t>(slice)];
            kernels.gemm_nt(rows, gate_rows, weights.input_size, layer_input, weights.weight_ih.data(),
                            weights.input_bias.data(), buffers.input_projection);
            load_state(args.h0, slice, hidden_slice, buffers.hidden[0]);
            if (shape.has_cell_state()) {
                load_state(args.c0, slice, cell_slice, buffers.cell);
            }

            RecurrentStep step{};
            step.batch = call.batch;
            step.hidden_size = shape.hidden_size;
            step.output_size = shape.output_size;
            step.lengths = args.lengths;
            step.input_projection_stride = batch_step * gate_rows;
            step.weight_hh = weights.weight_hh.data();
            step.new_gate_bias = weights.new_gate_bias.data();
            step.weight_hr = shape.has_projection ? weights.weight_hr.data() : nullptr;
            step.c = buffers.cell;
            step.projection_scratch = buffers.projection_scratch;
            step.output_stride = batch_step * output_width;
            for (int64_t step_index = 0; step_index < call.seq_len; ++step_index) {
                // The reverse direction walks t down from T-1; rows shorter than T stay inactive (holding h0)
                // until t = length-1, so each starts at its own last step as PackedSequence does.
                const int64_t time = direction == 0 ? step_index : call.seq_len - 1 - step_index;
                step.time = time;
                step.input_projection = buffers.input_projection + time * time_step * gate_rows;
                step.h_prev = buffers.hidden[step_index % 2];
                step.h_next = buffers.hidden[(step_index + 1) % 2];
                const int64_t output_offset = time * time_step * output_width + direction * shape.output_size;
                step.layer_output = layer_output != nullptr ? layer_output + output_offset : nullptr;
                step.y = y != nullptr ? y + output_offset : nullptr;
                step_function(step);
            }

            store_state(buffers.hidden[call.seq_len % 2], slice, hidden_slice, args.hn);
            if (shape.has_cell_state()) {
                store_state(buffers.cell, slice, cell_slice, args.cn);
            }
        }
        layer_input = layer_output;
    }
}

}  // namespace fusedrnn::cpu
