#include "cpu/forward.h"

#include "common/checked_math.h"
#include "common/shape_checks.h"
#include "cpu/cpu_backend.h"
#include "cpu/dispatch.h"

#include <algorithm>
#include <cstddef>
#include <initializer_list>

namespace fusedrnn::cpu {
namespace {

// Batch rows that share each weight load in the batched step kernel: a row split hands out whole groups.
constexpr int64_t row_group = 4;

Range share_rows(int64_t batch, int participant, int parts) {
    const Range groups = share((batch + row_group - 1) / row_group, participant, parts);
    return {groups.begin * row_group, std::min(groups.end * row_group, batch)};
}

// The rows (t, b) of time steps `steps` and batch rows `rows`, one per layer input or output vector, stored in the
// call's order: time-major, row (t, b) at (t - steps.begin) * rows.size() + (b - rows.begin), or batch-first,
// (b - rows.begin) * steps.size() + (t - steps.begin). The whole call is one grid (x, y and the outputs of the layers
// below the last); a chunk is another (its converted x and its input projection).
struct RowGrid {
    Range steps;
    Range rows;
    bool batch_first;

    int64_t at(int64_t time, int64_t row) const {
        return batch_first ? (row - rows.begin) * steps.size() + (time - steps.begin)
                           : (time - steps.begin) * rows.size() + (row - rows.begin);
    }
    // From one batch row to the next at the same step.
    int64_t row_stride() const { return batch_first ? steps.size() : 1; }
};

// Calls run(from_row, to_row, count) for the rows (t, b), t in `steps` and b in `rows`, of two grids that both hold
// them, in as few runs as are contiguous in both: one when the rows span both grids' inner dimension (all the rows
// of a time-major grid, all the steps of a batch-first one), else one per step (time-major) or per row.
template <class Run>
void for_each_run(const RowGrid& from, const RowGrid& to, Range steps, Range rows, Run run) {
    if (from.batch_first) {
        if (steps == from.steps && steps == to.steps) {
            run(from.at(steps.begin, rows.begin), to.at(steps.begin, rows.begin), rows.size() * steps.size());
            return;
        }
        for (int64_t row = rows.begin; row < rows.end; ++row) {
            run(from.at(steps.begin, row), to.at(steps.begin, row), steps.size());
        }
    } else {
        if (rows == from.rows && rows == to.rows) {
            run(from.at(steps.begin, rows.begin), to.at(steps.begin, rows.begin), steps.size() * rows.size());
            return;
        }
        for (int64_t time = steps.begin; time < steps.end; ++time) {
            run(from.at(time, rows.begin), to.at(time, rows.begin), rows.size());
        }
    }
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

// Steps under 32K multiply-adds run on the caller alone: less than the cost of sharing them (a barrier is a few
// hundred ns when the cores are free). Above it, units are split (DeepCPU: each core keeps its slice of the
// weights in its own cache) unless the weights are small enough to sit in every core's cache at once and the
// batch has a row group per participant: then rows are split and the barriers disappear. A projection mixes all
// units into every h, and so does the GRU with the reset before the product (R_n reads all of r * h): they can only
// split rows.
template <class T>
Sharing sharing_for(const frnn_model& model, const ForwardShape& call) {
    constexpr int64_t min_parallel_step_macs = 32 * 1024;
    constexpr std::size_t cache_resident_weight_bytes = 256 * 1024;  // a quarter of a 1 MiB L2 (Zen 4/5), or less
    const ModelShape& shape = model.shape;
    const CpuModel& packed = cpu_part(model);
    const int64_t padded_hidden = packed.layers<T>().front().padded_hidden;
    const int64_t step_macs = call.batch * shape.gate_count * padded_hidden * shape.output_size;
    if (packed.thread_count == 1 || step_macs < min_parallel_step_macs) {
        return {1, Split::units};
    }
    std::size_t largest_layer_floats = 0;
    for (const PackedLayer<T>& layer : packed.layers<T>()) {
        largest_layer_floats =
            std::max(largest_layer_floats, layer.weight_ih.size() + layer.weight_hh.size() + layer.weight_hn.size());
    }
    const bool weights_fit_every_cache = largest_layer_floats * sizeof(float) <= cache_resident_weight_bytes;
    const int64_t row_parts = std::min(packed.thread_count, call.batch / row_group);
    const bool units_mix = shape.has_projection || shape.cell.reset_before_product;
    const int64_t unit_parts = units_mix ? 1 : std::min(packed.thread_count, padded_hidden / packed.panel_width);
    if (row_parts > 1 && (weights_fit_every_cache || row_parts > unit_parts)) {
        return {static_cast<int>(row_parts), Split::rows};
    }
    return {static_cast<int>(unit_parts), Split::units};
}

// The input projection of a layer and direction is computed a chunk of time steps x batch rows at a time, just
// before those steps run, into buffers (with layer 0's converted x) of at most the workspace's chunk budget, or one
// row if that is more (a row is as wide as the model's gates). So a call allocates the budget, the state and the
// outputs of the layers below the last (as large as the call's y, in T), however many steps and rows it has. A
// chunk is all of a participant's rows for as many steps as fit (every step, below the budget: then nothing changes),
// else, when one step's rows do not fit, as many whole row groups of one step as do. The steps of a chunk run right
// after its projection; the reverse direction walks the chunks, like the steps, from the last. Each output is
// computed by the same kernel code whatever the chunks, so results do not depend on them.
struct ChunkShape {
    int64_t steps;  // most steps in a chunk
    int64_t rows;   // most batch rows in a chunk
};

// Chunk buffers: one region shared by a unit split (each participant computes, and reads, its own gate columns of
// every row), or one per participant of a row split (each runs its own rows through its own chunks).
int regions_of(const Sharing& sharing) { return sharing.split == Split::rows ? sharing.participants : 1; }

template <class T>
ChunkShape chunk_shape_for(const ModelShape& shape, int64_t gate_columns, const ForwardShape& call,
                           const Sharing& sharing, int64_t budget_bytes) {
    int64_t most_rows = 0;  // of one participant
    for (int participant = 0; participant < regions_of(sharing); ++participant) {
        const Range rows = sharing.split == Split::rows ? share_rows(call.batch, participant, sharing.participants)
                                                        : Range{0, call.batch};
        most_rows = std::max(most_rows, rows.size());
    }
    const int64_t row_values = checked_sum({shape.input_size, gate_columns}, "a row of the input projection");
    const int64_t region_values = budget_bytes / static_cast<int64_t>(sizeof(T)) / regions_of(sharing);
    const int64_t rows_that_fit = std::max<int64_t>(1, region_values / row_values);
    if (rows_that_fit / most_rows >= call.seq_len) {
        return {call.seq_len, most_rows};
    }
    if (rows_that_fit >= most_rows) {
        return {rows_that_fit / most_rows, most_rows};
    }
    return {1, rows_that_fit >= row_group ? rows_that_fit / row_group * row_group : rows_that_fit};
}

// Scratch of one forward call, carved from the workspace arena, all of it in the arithmetic type T: x is converted on
// entry (widened in double precision) and only y, hn and cn are stored back as float32 (see "Precision" in
// native/README.md).
template <class T>
struct ForwardBuffers {
    // Region r of the chunk buffers (see regions_of) starts at + r * chunk_*_stride.
    T* chunk_input;                  // [chunk rows, input_size]: x of a chunk's rows, as T (layer 0)
    T* chunk_projection;             // [chunk rows, G*Hp]: one layer and direction's input projection of a chunk
    int64_t chunk_input_stride;
    int64_t chunk_projection_stride;
    T* layer_outputs[2];             // [T*B, D*Hout]: outputs of the layers below the last, ping-ponged
    T* hidden[2];                    // [B, Hout]: h before and after a step
    T* cell;                         // [B, H]
    T* projection_scratch;           // [B, H]: LSTM projection's cell outputs, or r * h (GRU reset before the product)
    T* gate_scratch;                 // [B, H]: z (GRU reset before the product)
};

template <class T>
ForwardBuffers<T> carve_buffers(frnn_workspace& workspace, const ModelShape& model, int64_t gate_columns,
                                const ForwardShape& call, const ChunkShape& chunks, int regions) {
    // Each buffer starts on a 64-byte boundary so vector kernels can use aligned loads. The sizes are products of
    // validated ones, but their sum may still be more than int64 holds.
    constexpr int64_t values_per_line = AlignedArray<T>::alignment / sizeof(T);
    const char* const what = "the workspace of this call";
    const auto lines = [&](std::initializer_list<int64_t> factors) {
        const int64_t count = checked_product(factors, what);
        return checked_product({count / values_per_line + (count % values_per_line != 0), values_per_line}, what);
    };
    int64_t total = 0;
    const auto place = [&](int64_t values) {
        const int64_t offset = total;
        total = checked_sum({total, values}, what);
        return offset;
    };
    const int64_t chunk_rows = chunks.steps * chunks.rows;  // at most a budget's worth, or one row
    const int64_t input_stride = lines({chunk_rows, model.input_size});
    const int64_t projection_stride = lines({chunk_rows, gate_columns});
    const int64_t input_at = place(checked_product({input_stride, regions}, what));
    const int64_t projection_at = place(checked_product({projection_stride, regions}, what));
    const int64_t rows = call.seq_len * call.batch;
    const int64_t intermediate_outputs = std::min<int64_t>(model.num_layers - 1, 2);
    int64_t layer_output_at[2] = {0, 0};
    for (int64_t index = 0; index < intermediate_outputs; ++index) {
        layer_output_at[index] = place(lines({rows, model.num_directions, model.output_size}));
    }
    const int64_t hidden_at[2] = {place(lines({call.batch, model.output_size})),
                                  place(lines({call.batch, model.output_size}))};
    const int64_t cell_at = place(model.has_cell_state() ? lines({call.batch, model.hidden_size}) : 0);
    const bool reset_before = model.cell.reset_before_product;
    const int64_t scratch_at =
        place(model.has_projection || reset_before ? lines({call.batch, model.hidden_size}) : 0);
    const int64_t gate_scratch_at = place(reset_before ? lines({call.batch, model.hidden_size}) : 0);

    T* base = cpu_part(workspace).reserve<T>(static_cast<std::size_t>(total));
    return {base + input_at,
            base + projection_at,
            input_stride,
            projection_stride,
            {base + layer_output_at[0], base + layer_output_at[1]},
            {base + hidden_at[0], base + hidden_at[1]},
            base + cell_at,
            base + scratch_at,
            base + gate_scratch_at};
}

// PyTorch's cells have kernels of their own; every other variant runs through the variant kernels.
template <class T>
RecurrentStepFn<T> step_kernel(const KernelTable<T>& kernels, const ModelShape& shape) {
    if (!shape.is_pytorch_cell()) {
        switch (shape.cell_kind) {
        case FRNN_CELL_LSTM: return kernels.lstm_variant_step;
        case FRNN_CELL_GRU:
            return shape.cell.reset_before_product ? kernels.gru_reset_before_step : kernels.gru_variant_step;
        case FRNN_CELL_RNN_TANH:
        case FRNN_CELL_RNN_RELU: return kernels.rnn_variant_step;
        }
    }
    switch (shape.cell_kind) {
    case FRNN_CELL_LSTM: return kernels.lstm_step;
    case FRNN_CELL_GRU: return kernels.gru_step;
    case FRNN_CELL_RNN_TANH: return kernels.rnn_tanh_step;
    case FRNN_CELL_RNN_RELU: return kernels.rnn_relu_step;
    }
    return nullptr;  // unreachable: the spec was validated
}

// float32 values as T: widened in double precision, copied in float.
template <class T>
void convert(const float* source, int64_t count, T* destination) {
    for (int64_t index = 0; index < count; ++index) {
        destination[index] = static_cast<T>(source[index]);
    }
}

// x of batch rows `rows`, steps chunk.steps, as T into a chunk's buffer.
template <class T>
void load_input(const float* x, int64_t input_size, const RowGrid& call, const RowGrid& chunk, Range rows,
                T* chunk_input) {
    for_each_run(call, chunk, chunk.steps, rows, [&](int64_t from, int64_t to, int64_t count) {
        convert(x + from * input_size, count * input_size, chunk_input + to * input_size);
    });
}

// How a call reads its initial state and writes its final one, for h or for c: the caller's float32 buffers of a
// forward call ([L*D, B, width] slices; an absent h0/c0 is zeros, an absent hn/cn is not written), or the slots of an
// frnn_model_step_slots call, kept in T (so the state of a stream is never rounded between its steps).
template <class T>
struct StateAccess {
    const float* initial;
    float* final;
    const SlotState* slots;  // when set, it replaces both
    int64_t slot_offset;     // where slice 0 of this state starts in a slot
    int64_t slot_values;
    int64_t batch;
    int64_t width;

    int64_t caller_row(int64_t slice, int64_t row) const { return (slice * batch + row) * width; }
    T* slot_row(int64_t slice, int64_t row) const {
        return reinterpret_cast<T*>(slots->state) + slots->slots[row] * slot_values + slot_offset + slice * width;
    }

    // Columns `columns` of rows `rows` of slice `slice` into `state` ([B, width] in T).
    void load(int64_t slice, Range rows, Range columns, T* state) const {
        for (int64_t row = rows.begin; row < rows.end; ++row) {
            T* destination = state + row * width + columns.begin;
            if (slots != nullptr) {
                std::copy_n(slot_row(slice, row) + columns.begin, columns.size(), destination);
            } else if (initial != nullptr) {
                convert(initial + caller_row(slice, row) + columns.begin, columns.size(), destination);
            } else {
                std::fill_n(destination, columns.size(), T(0));
            }
        }
    }

    // Columns `columns` of rows `rows` of `state` back as slice `slice`.
    void store(int64_t slice, Range rows, Range columns, const T* state) const {
        for (int64_t row = rows.begin; row < rows.end; ++row) {
            const T* source = state + row * width + columns.begin;
            if (slots != nullptr) {
                std::copy_n(source, columns.size(), slot_row(slice, row) + columns.begin);
            } else if (final != nullptr) {
                float* destination = final + caller_row(slice, row) + columns.begin;
                for (int64_t column = 0; column < columns.size(); ++column) {
                    destination[column] = round_to_float(source[column]);
                }
            }
        }
    }
};

// Everything the participants of one call read; each one runs the same walk over layers, directions, chunks and time
// steps on its own slice of units (meeting the others at the barrier where the next phase reads their results) or
// on its own rows (meeting nobody).
template <class T>
struct ForwardPlan {
    const frnn_model& model;
    const KernelTable<T>& kernels;
    const ForwardShape& call;
    const frnn_forward_args& args;
    ForwardBuffers<T> buffers;
    ChunkShape chunks;
    WorkerTeam* team;  // null when the caller runs alone
    Sharing sharing;
    StateAccess<T> hidden_state;
    StateAccess<T> cell_state;

    void barrier() const {
        if (team != nullptr && sharing.split == Split::units) {
            team->barrier();
        }
    }

    void run(int participant) const;
};

template <class T>
void ForwardPlan<T>::run(int participant) const {
    const ModelShape& shape = model.shape;
    const CpuModel& packed = cpu_part(model);
    const RecurrentStepFn<T> step_function = step_kernel(kernels, shape);
    CellRules rules[2];
    for (int64_t direction = 0; direction < shape.num_directions; ++direction) {
        const CellActivations& activations = shape.cell.activations[direction];
        const auto rule = [](const Activation& activation) {
            return ActivationRule{activation.kind, activation.alpha, activation.beta};
        };
        rules[direction] = {rule(activations.gates), rule(activations.candidate), rule(activations.output),
                            shape.cell.clip, shape.cell.coupled_input_forget};
    }
    const int64_t width = packed.panel_width;
    const int64_t padded_hidden = packed.layers<T>().front().padded_hidden;
    const int64_t gate_columns = shape.gate_count * padded_hidden;
    const int64_t output_width = shape.num_directions * shape.output_size;
    const RowGrid whole_call{{0, call.seq_len}, {0, call.batch}, call.batch_first};
    // This participant's batch rows and unit blocks; with a projection (no unit split) h is Hout wide, c H wide.
    const bool split_units = sharing.split == Split::units;
    const Range rows = split_units ? Range{0, call.batch} : share_rows(call.batch, participant, sharing.participants);
    const Range blocks = split_units ? share(padded_hidden / width, participant, sharing.participants)
                                     : Range{0, padded_hidden / width};
    const Range units{blocks.begin * width, std::min(blocks.end * width, shape.hidden_size)};
    const Range state_columns = shape.has_projection ? Range{0, shape.output_size} : units;
    const Range cell_columns = shape.has_projection ? Range{0, shape.hidden_size} : units;
    const int64_t region = split_units ? 0 : participant;
    T* const chunk_input = buffers.chunk_input + region * buffers.chunk_input_stride;
    T* const chunk_projection = buffers.chunk_projection + region * buffers.chunk_projection_stride;

    // In one chunk, x is converted once for every layer-0 pass: a unit split's by forward(), before the participants
    // start; a row split's rows by their participant, the only one that reads them.
    const bool one_chunk = chunks.steps == call.seq_len && chunks.rows >= rows.size();
    if (one_chunk && !split_units) {
        const RowGrid chunk{whole_call.steps, rows, call.batch_first};
        load_input(args.x, shape.input_size, whole_call, chunk, rows, chunk_input);
    }
    const T* layer_input = nullptr;  // the layer below's output; layer 0 reads its chunks' converted x
    for (int64_t layer = 0; layer < shape.num_layers; ++layer) {
        const bool is_last_layer = layer == shape.num_layers - 1;
        // Layers below the last write the next layer's input in T; the last one writes y (maybe absent).
        T* layer_output = is_last_layer ? nullptr : buffers.layer_outputs[layer % 2];
        float* y = is_last_layer ? args.y : nullptr;
        for (int64_t direction = 0; direction < shape.num_directions; ++direction) {
            const bool is_last_pass = is_last_layer && direction == shape.num_directions - 1;
            const int64_t slice = layer * shape.num_directions + direction;
            const PackedLayer<T>& weights = packed.layers<T>()[static_cast<std::size_t>(slice)];
            hidden_state.load(slice, rows, state_columns, buffers.hidden[0]);
            if (shape.has_cell_state()) {
                cell_state.load(slice, rows, cell_columns, buffers.cell);
            }
            barrier();  // every step reads all of h

            RecurrentStep<T> step{};
            step.hidden_size = shape.hidden_size;
            step.output_size = shape.output_size;
            step.unit_begin = units.begin;
            step.unit_end = units.end;
            step.weight_hh = weights.weight_hh.data();
            step.new_gate_bias = weights.new_gate_bias.data();
            step.weight_hr = shape.has_projection ? weights.weight_hr.data() : nullptr;
            step.rules = &rules[direction];
            step.peepholes = shape.cell.peepholes ? weights.peepholes.data() : nullptr;
            step.peephole_stride = padded_hidden;
            step.weight_hn = shape.cell.reset_before_product ? weights.weight_hn.data() : nullptr;
            step.output_stride = whole_call.row_stride() * output_width;
            const int64_t step_chunks = (call.seq_len + chunks.steps - 1) / chunks.steps;
            for (int64_t walked_chunks = 0; walked_chunks < step_chunks; ++walked_chunks) {
                const int64_t chunk_index = direction == 0 ? walked_chunks : step_chunks - 1 - walked_chunks;
                const Range steps{chunk_index * chunks.steps, std::min(call.seq_len, (chunk_index + 1) * chunks.steps)};
                for (int64_t first_row = rows.begin; first_row < rows.end; first_row += chunks.rows) {
                    const RowGrid chunk{steps, {first_row, std::min(rows.end, first_row + chunks.rows)},
                                        call.batch_first};
                    if (layer == 0 && !one_chunk) {
                        // Every participant of a unit split reads all of the chunk's x: each converts a share. (The
                        // barriers after the steps of the previous chunk kept anyone from reading it still.)
                        const Range mine = split_units ? share(chunk.rows.size(), participant, sharing.participants)
                                                       : Range{0, chunk.rows.size()};
                        load_input(args.x, shape.input_size, whole_call, chunk,
                                    {chunk.rows.begin + mine.begin, chunk.rows.begin + mine.end}, chunk_input);
                        barrier();
                    }
                    // The chunk's input projection of this participant's rows and gate columns.
                    const int64_t first_column = blocks.begin * shape.gate_count * width;
                    const T* source = layer == 0 ? chunk_input : layer_input;
                    for_each_run(layer == 0 ? chunk : whole_call, chunk, chunk.steps, chunk.rows,
                                 [&](int64_t from, int64_t to, int64_t count) {
                                     kernels.gemm_nt(count, blocks.size(), shape.gate_count, weights.input_size,
                                                     source + from * weights.input_size,
                                                     weights.weight_ih.data() + first_column * weights.input_size,
                                                     weights.input_bias.data() + first_column,
                                                     chunk_projection + to * gate_columns + first_column,
                                                     gate_columns);
                                 });

                    // The step kernels see the chunk's rows as rows 0, 1, ...
                    step.batch = chunk.rows.size();
                    step.lengths = args.lengths != nullptr ? args.lengths + first_row : nullptr;
                    step.input_projection_stride = chunk.row_stride() * gate_columns;
                    step.c = buffers.cell + first_row * shape.hidden_size;
                    step.projection_scratch = buffers.projection_scratch + first_row * shape.hidden_size;
                    step.gate_scratch = buffers.gate_scratch + first_row * shape.hidden_size;
                    for (int64_t walked_steps = 0; walked_steps < steps.size(); ++walked_steps) {
                        // The reverse direction walks t down from T-1; rows shorter than T stay inactive (holding
                        // h0) until t = length-1, so each starts at its own last step as PackedSequence does.
                        const int64_t time = direction == 0 ? steps.begin + walked_steps : steps.end - 1 - walked_steps;
                        const int64_t step_index = direction == 0 ? time : call.seq_len - 1 - time;
                        step.time = time;
                        step.input_projection = chunk_projection + chunk.at(time, first_row) * gate_columns;
                        step.h_prev = buffers.hidden[step_index % 2] + first_row * shape.output_size;
                        step.h_next = buffers.hidden[(step_index + 1) % 2] + first_row * shape.output_size;
                        const int64_t output_offset =
                            whole_call.at(time, first_row) * output_width + direction * shape.output_size;
                        step.layer_output = layer_output != nullptr ? layer_output + output_offset : nullptr;
                        step.y = y != nullptr ? y + output_offset : nullptr;
                        step_function(step);
                        // The next step, chunk, direction or layer reads every participant's h (and the next chunk
                        // overwrites the x this one read); after the very last step each participant only stores
                        // its own slice of the state, and the end of the job is the barrier.
                        const bool is_last_step = is_last_pass && step_index == call.seq_len - 1 &&
                                                  chunk.rows.end == rows.end;
                        if (!is_last_step) {
                            barrier();
                        }
                    }
                }
            }

            hidden_state.store(slice, rows, state_columns, buffers.hidden[call.seq_len % 2]);
            if (shape.has_cell_state()) {
                cell_state.store(slice, rows, cell_columns, buffers.cell);
            }
        }
        layer_input = layer_output;
    }
}

// The whole call in precision T.
template <class T>
void forward_in(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& call,
                const frnn_forward_args& args, const SlotState* slots) {
    CpuWorkspace& scratch = cpu_part(workspace);
    Sharing sharing = sharing_for<T>(model, call);
    if (sharing.participants > 1 && scratch.team.congested()) {
        sharing = {1, Split::units};
    }
    // The workers idle in the process's pool now, up to the split's: fewer participants share the call as well.
    if (sharing.participants > 1) {
        sharing.participants = scratch.team.hire(sharing.participants);
        if (sharing.participants == 1) {
            sharing = {1, Split::units};
        }
    }
    WorkerTeam* team = sharing.participants > 1 ? &scratch.team : nullptr;
    const DismissOnExit dismiss_if_not_run(team);
    const int64_t gate_columns = model.shape.gate_count * cpu_part(model).layers<T>().front().padded_hidden;
    const ChunkShape chunks =
        chunk_shape_for<T>(model.shape, gate_columns, call, sharing, scratch.chunk_budget_bytes);
    const ForwardBuffers<T> buffers =
        carve_buffers<T>(workspace, model.shape, gate_columns, call, chunks, regions_of(sharing));
    // A unit split (or the caller alone) in one chunk reads every row of x in every layer-0 pass: converted here,
    // once, before the participants start (one barrier fewer; next to the weights a batch this split serves streams
    // every step, it is a small copy). A row split converts its own rows.
    if (sharing.split == Split::units && chunks.steps == call.seq_len && chunks.rows == call.batch) {
        const RowGrid whole_call{{0, call.seq_len}, {0, call.batch}, call.batch_first};
        load_input(args.x, model.shape.input_size, whole_call, whole_call, whole_call.rows, buffers.chunk_input);
    }
    const ModelShape& shape = model.shape;
    const int64_t values_per_slot = slots != nullptr ? slot_values(shape) : 0;
    const int64_t cell_offset = shape.num_layers * shape.num_directions * shape.output_size;
    const ForwardPlan<T> plan{model,
                              active_kernels<T>(),
                              call,
                              args,
                              buffers,
                              chunks,
                              team,
                              sharing,
                              {args.h0, args.hn, slots, 0, values_per_slot, call.batch, shape.output_size},
                              {args.c0, args.cn, slots, cell_offset, values_per_slot, call.batch, shape.hidden_size}};
    if (plan.team == nullptr) {
        plan.run(0);
        return;
    }
    auto job = [&plan](int participant) { plan.run(participant); };
    plan.team->run(job);
}

}  // namespace

void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& call,
             const frnn_forward_args& args) {
    if (model.shape.precision == FRNN_PRECISION_FLOAT32) {
        forward_in<float>(model, workspace, call, args, nullptr);
    } else {
        forward_in<double>(model, workspace, call, args, nullptr);
    }
}

void step_slots(const frnn_model& model, frnn_workspace& workspace, const frnn_slot_step_args& args) {
    frnn_forward_args step{};
    step.seq_len = 1;
    step.batch = args.batch;
    step.x = args.x;
    step.x_count = args.x_count;
    step.y = args.y;
    step.y_count = args.y_count;
    const ForwardShape call{1, args.batch, false};
    const SlotState slots{args.state, args.slots};
    if (model.shape.precision == FRNN_PRECISION_FLOAT32) {
        forward_in<float>(model, workspace, call, step, &slots);
    } else {
        forward_in<double>(model, workspace, call, step, &slots);
    }
}

}  // namespace fusedrnn::cpu
