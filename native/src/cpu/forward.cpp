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
    double* input_projection;   // [T*B, G*Hp]: one layer and direction's input projection for all steps
    double* layer_outputs[2];   // [T*B, D*Hout]: outputs of the layers below the last, ping-ponged
    double* hidden[2];          // [B, Hout]: h before and after a step
    double* cell;               // [B, H]
    double* projection_scratch; // [B, H]
};

ForwardBuffers carve_buffers(frnn_workspace& workspace, const ModelShape& model, int64_t gate_columns,
                             const ForwardShape& call) {
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
    const std::size_t projection_at = place(rows * gate_columns);
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

// How the participants of a call share it. Either way every output is computed by the same kernels in the same
// order as on one thread, so the split never changes a result.
enum class Split {
    // Each owns a slice of whole unit blocks (and of the weights, which then stay in its core's cache) for the
    // whole call; they meet at a barrier after every step, since every step reads all of h.
    units,
    // Each takes a range of batch rows through the whole call, reading all the weights; no barrier at all.
    rows,
};

struct Sharing {
    int participants;
    Split split;
};

// [begin, end) of `count` items for one of `parts` participants, in contiguous, balanced ranges.
struct Range {
    int64_t begin;
    int64_t end;
};
Range share(int64_t count, int participant, int parts) {
    return {count * participant / parts, count * (participant + 1) / parts};
}

// Batch rows that share each weight load in the batched step kernel: a row split hands out whole groups.
constexpr int64_t row_group = 4;

Range share_rows(int64_t batch, int participant, int parts) {
    const Range groups = share((batch + row_group - 1) / row_group, participant, parts);
    return {groups.begin * row_group, std::min(groups.end * row_group, batch)};
}

// Steps under 32K multiply-adds run on the caller alone: less than the cost of sharing them (a barrier is a few
// hundred ns when the cores are free). Above it, units are split (DeepCPU: each core keeps its slice of the
// weights in its own cache) unless the weights are small enough to sit in every core's cache at once and the
// batch has a row group per participant: then rows are split and the barriers disappear. A projection mixes all
// units into every h, so it can only split rows.
Sharing sharing_for(const frnn_model& model, const ForwardShape& call) {
    constexpr int64_t min_parallel_step_macs = 32 * 1024;
    constexpr std::size_t cache_resident_weight_bytes = 256 * 1024;  // a quarter of a 1 MiB L2 (Zen 4/5), or less
    const ModelShape& shape = model.shape;
    const int64_t padded_hidden = model.layers.front().padded_hidden;
    const int64_t step_macs = call.batch * shape.gate_count * padded_hidden * shape.output_size;
    if (model.thread_count == 1 || step_macs < min_parallel_step_macs) {
        return {1, Split::units};
    }
    std::size_t largest_layer_floats = 0;
    for (const PackedLayer& layer : model.layers) {
        largest_layer_floats = std::max(largest_layer_floats, layer.weight_ih.size() + layer.weight_hh.size());
    }
    const bool weights_fit_every_cache = largest_layer_floats * sizeof(float) <= cache_resident_weight_bytes;
    const int64_t row_parts = std::min(model.thread_count, call.batch / row_group);
    const int64_t unit_parts = shape.has_projection ? 1 : std::min(model.thread_count, padded_hidden / model.panel_width);
    if (row_parts > 1 && (weights_fit_every_cache || row_parts > unit_parts)) {
        return {static_cast<int>(row_parts), Split::rows};
    }
    return {static_cast<int>(unit_parts), Split::units};
}

// Everything the participants of one call read; each one runs the same walk over layers, directions and time
// steps on its own slice of units (meeting the others at the barrier where the next phase reads their results) or
// on its own rows (meeting nobody).
struct ForwardPlan {
    const frnn_model& model;
    const KernelTable& kernels;
    const ForwardShape& call;
    const frnn_forward_args& args;
    ForwardBuffers buffers;
    WorkerTeam* team;  // null when the caller runs alone
    Sharing sharing;

    void barrier() const {
        if (team != nullptr && sharing.split == Split::units) {
            team->barrier();
        }
    }

    void run(int participant) const;
};

void widen(const float* source, int64_t count, double* destination) {
    for (int64_t index = 0; index < count; ++index) {
        destination[index] = static_cast<double>(source[index]);
    }
}

// Calls run(first, count) on the rows of the call's [T, B] layout (x, y, the layer buffers, the input projection)
// that belong to batch rows [begin, end) at every time step, in as few contiguous runs as the layout allows: one
// for the whole batch or a batch-first layout (a row's steps are adjacent, and so are consecutive rows'), else one
// per time step.
template <class Run>
void for_each_row_run(const ForwardShape& call, Range batch_rows, Run run) {
    const int64_t count = batch_rows.end - batch_rows.begin;
    if (count == call.batch) {
        run(int64_t{0}, call.seq_len * call.batch);
    } else if (call.batch_first) {
        run(batch_rows.begin * call.seq_len, count * call.seq_len);
    } else {
        for (int64_t time = 0; time < call.seq_len; ++time) {
            run(time * call.batch + batch_rows.begin, count);
        }
    }
}

// Widens the x of batch rows [begin, end), all time steps, into the workspace's copy (same layout).
void widen_input(const float* x, const ForwardShape& call, int64_t input_size, Range rows, double* input) {
    for_each_row_run(call, rows, [&](int64_t first, int64_t count) {
        widen(x + first * input_size, count * input_size, input + first * input_size);
    });
}

// Widens columns [begin, end) of some rows of an initial state slice ([B, width]), or zeros them.
void load_state(const float* initial, int64_t slice, int64_t batch, int64_t width, Range rows, Range columns,
                double* state) {
    for (int64_t row = rows.begin; row < rows.end; ++row) {
        double* destination = state + row * width + columns.begin;
        if (initial != nullptr) {
            widen(initial + (slice * batch + row) * width + columns.begin, columns.end - columns.begin, destination);
        } else {
            std::fill_n(destination, columns.end - columns.begin, 0.0);
        }
    }
}

// Rounds columns [begin, end) of some rows of a final state slice to float32 into the caller's buffer, if any.
void store_state(const double* state, int64_t slice, int64_t batch, int64_t width, Range rows, Range columns,
                 float* final_state) {
    if (final_state == nullptr) {
        return;
    }
    for (int64_t row = rows.begin; row < rows.end; ++row) {
        float* destination = final_state + (slice * batch + row) * width;
        for (int64_t column = columns.begin; column < columns.end; ++column) {
            destination[column] = static_cast<float>(state[row * width + column]);
        }
    }
}

void ForwardPlan::run(int participant) const {
    const ModelShape& shape = model.shape;
    const RecurrentStepFn step_function = step_kernel(kernels, shape.cell_kind);
    const int64_t width = model.panel_width;
    const int64_t padded_hidden = model.layers.front().padded_hidden;
    const int64_t gate_columns = shape.gate_count * padded_hidden;
    const int64_t output_width = shape.num_directions * shape.output_size;
    // x, y and the buffers between layers share one layout; row (t, b) is t*time_step + b*batch_step.
    const int64_t time_step = call.batch_first ? 1 : call.batch;
    const int64_t batch_step = call.batch_first ? call.seq_len : 1;
    // This participant's batch rows and unit blocks; with a projection (no unit split) h is Hout wide, c H wide.
    const bool split_units = sharing.split == Split::units;
    const Range rows = split_units ? Range{0, call.batch} : share_rows(call.batch, participant, sharing.participants);
    const Range blocks = split_units ? share(padded_hidden / width, participant, sharing.participants)
                                     : Range{0, padded_hidden / width};
    const Range units{blocks.begin * width, std::min(blocks.end * width, shape.hidden_size)};
    const Range state_columns = shape.has_projection ? Range{0, shape.output_size} : units;
    const Range cell_columns = shape.has_projection ? Range{0, shape.hidden_size} : units;
    const int64_t first_row = rows.begin;  // the step kernels see this participant's rows as rows 0, 1, ...

    if (!split_units) {
        widen_input(args.x, call, shape.input_size, rows, buffers.input);  // only this participant reads them
    }
    const double* layer_input = buffers.input;
    for (int64_t layer = 0; layer < shape.num_layers; ++layer) {
        const bool is_last_layer = layer == shape.num_layers - 1;
        // Layers below the last write the next layer's input in double; the last one writes y (maybe absent).
        double* layer_output = is_last_layer ? nullptr : buffers.layer_outputs[layer % 2];
        float* y = is_last_layer ? args.y : nullptr;
        for (int64_t direction = 0; direction < shape.num_directions; ++direction) {
            const bool is_last_pass = is_last_layer && direction == shape.num_directions - 1;
            const int64_t slice = layer * shape.num_directions + direction;
            const PackedLayer& weights = model.layers[static_cast<std::size_t>(slice)];
            // The input projection of this participant's rows and gate columns, for all time steps.
            const int64_t first_column = blocks.begin * shape.gate_count * width;
            for_each_row_run(call, rows, [&](int64_t first, int64_t count) {
                kernels.gemm_nt(count, blocks.end - blocks.begin, shape.gate_count, weights.input_size,
                                layer_input + first * weights.input_size,
                                weights.weight_ih.data() + first_column * weights.input_size,
                                weights.input_bias.data() + first_column,
                                buffers.input_projection + first * gate_columns + first_column, gate_columns);
            });
            load_state(args.h0, slice, call.batch, shape.output_size, rows, state_columns, buffers.hidden[0]);
            if (shape.has_cell_state()) {
                load_state(args.c0, slice, call.batch, shape.hidden_size, rows, cell_columns, buffers.cell);
            }
            barrier();  // every step reads all of h

            RecurrentStep step{};
            step.batch = rows.end - rows.begin;
            step.hidden_size = shape.hidden_size;
            step.output_size = shape.output_size;
            step.unit_begin = units.begin;
            step.unit_end = units.end;
            step.lengths = args.lengths != nullptr ? args.lengths + first_row : nullptr;
            step.input_projection_stride = batch_step * gate_columns;
            step.weight_hh = weights.weight_hh.data();
            step.new_gate_bias = weights.new_gate_bias.data();
            step.weight_hr = shape.has_projection ? weights.weight_hr.data() : nullptr;
            step.c = buffers.cell + first_row * shape.hidden_size;
            step.projection_scratch = buffers.projection_scratch + first_row * shape.hidden_size;
            step.output_stride = batch_step * output_width;
            for (int64_t step_index = 0; step_index < call.seq_len; ++step_index) {
                // The reverse direction walks t down from T-1; rows shorter than T stay inactive (holding h0)
                // until t = length-1, so each starts at its own last step as PackedSequence does.
                const int64_t time = direction == 0 ? step_index : call.seq_len - 1 - step_index;
                step.time = time;
                step.input_projection = buffers.input_projection + time * time_step * gate_columns +
                                        first_row * step.input_projection_stride;
                step.h_prev = buffers.hidden[step_index % 2] + first_row * shape.output_size;
                step.h_next = buffers.hidden[(step_index + 1) % 2] + first_row * shape.output_size;
                const int64_t output_offset = time * time_step * output_width + direction * shape.output_size +
                                              first_row * step.output_stride;
                step.layer_output = layer_output != nullptr ? layer_output + output_offset : nullptr;
                step.y = y != nullptr ? y + output_offset : nullptr;
                step_function(step);
                // The next step, direction or layer reads every participant's h; after the very last step each
                // participant only stores its own slice of the state, and the end of the job is the barrier.
                if (!(is_last_pass && step_index == call.seq_len - 1)) {
                    barrier();
                }
            }

            store_state(buffers.hidden[call.seq_len % 2], slice, call.batch, shape.output_size, rows, state_columns,
                        args.hn);
            if (shape.has_cell_state()) {
                store_state(buffers.cell, slice, call.batch, shape.hidden_size, rows, cell_columns, args.cn);
            }
        }
        layer_input = layer_output;
    }
}

}  // namespace

void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& call,
             const frnn_forward_args& args) {
    Sharing sharing = sharing_for(model, call);
    if (sharing.participants > 1 && workspace.team != nullptr && workspace.team->congested()) {
        sharing.participants = 1;
    }
    const int64_t gate_columns = model.shape.gate_count * model.layers.front().padded_hidden;
    ForwardBuffers buffers = carve_buffers(workspace, model.shape, gate_columns, call);
    if (sharing.participants > 1 && (workspace.team == nullptr || workspace.team->size() < sharing.participants)) {
        // Grows to the most participants a call has wanted (the old workers are joined first); a call that wants
        // fewer leaves the rest idle.
        workspace.team.reset();
        workspace.team = std::make_unique<WorkerTeam>(sharing.participants);
    }
    // A unit split reads every row of x: widened here, before the participants start (one barrier fewer; next to
    // the weights a batch this split serves streams every step, it is a small copy). A row split widens its own.
    if (sharing.participants == 1 || sharing.split == Split::units) {
        widen_input(args.x, call, model.shape.input_size, Range{0, call.batch}, buffers.input);
    }
    const ForwardPlan plan{model,   active_kernels(), call, args, buffers,
                           sharing.participants > 1 ? workspace.team.get() : nullptr, sharing};
    if (plan.team == nullptr) {
        plan.run(0);
        return;
    }
    auto job = [&plan](int participant) { plan.run(participant); };
    plan.team->run(job, sharing.participants);
}

}  // namespace fusedrnn::cpu
