#include "common/shape_checks.h"

#include "common/checked_math.h"
#include "common/error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <string>

namespace fusedrnn {
namespace {

using std::to_string;

struct Factor {
    const char* name;
    int64_t value;
};

// Expected element count of a buffer as the product of named factors.
struct ExpectedCount {
    std::initializer_list<Factor> factors;

    int64_t value(const char* what) const {
        int64_t product = 1;
        for (const Factor& factor : factors) {
            product = checked_product({product, factor.value}, what);
        }
        return product;
    }

    // "num_layers*batch = 2*3 = 6"
    std::string describe(int64_t product) const {
        std::string names;
        std::string values;
        for (const Factor& factor : factors) {
            names += (names.empty() ? "" : "*") + std::string(factor.name);
            values += (values.empty() ? "" : "*") + to_string(factor.value);
        }
        return factors.size() == 1 ? names + " = " + to_string(product)
                                   : names + " = " + values + " = " + to_string(product);
    }
};

// The helpers take C strings and format only when failing: forward calls validate without allocating.
void require_count(const char* count_name, int64_t actual, const char* owner, const ExpectedCount& expected) {
    int64_t expected_value = expected.value(count_name);
    if (actual != expected_value) {
        fail(FRNN_STATUS_SHAPE_MISMATCH, std::string(count_name) + " is " + to_string(actual) + " but " + owner +
                                             " needs " + expected.describe(expected_value));
    }
}

void require_range(const char* name, int64_t value, int64_t min, int64_t max) {
    if (value < min || value > max) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(name) + " is " + to_string(value) + " but must be in " +
                                               to_string(min) + ".." + to_string(max));
    }
}

template <std::size_t N>
void require_zero_reserved(const uint8_t (&reserved)[N], const char* name) {
    for (std::size_t index = 0; index < N; ++index) {
        if (reserved[index] != 0) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(name) + "[" + to_string(index) + "] is " +
                                                   to_string(reserved[index]) + " but reserved fields must be zero");
        }
    }
}

// A bool field of a caller's struct. Its byte must be 0 or 1: any other value (a C# or C caller can store one) is not
// a valid bool, and reading the field as bool would be undefined behaviour, so the byte is copied out and checked.
bool require_bool(const bool& field, const char* name) {
    static_assert(sizeof(bool) == 1, "the ABI's bools are one byte");
    unsigned char byte = 0;
    std::memcpy(&byte, &field, 1);
    if (byte > 1) {
        fail(FRNN_STATUS_INVALID_ARGUMENT,
             std::string(name) + " is " + to_string(byte) + " but a bool must be 0 (false) or 1 (true)");
    }
    return byte == 1;
}

const char* cell_kind_name(frnn_cell_kind kind) {
    switch (kind) {
    case FRNN_CELL_LSTM: return "LSTM";
    case FRNN_CELL_GRU: return "GRU";
    case FRNN_CELL_RNN_TANH: return "RNN_TANH";
    case FRNN_CELL_RNN_RELU: return "RNN_RELU";
    }
    return "unknown";
}

// A tensor that must be present with `expected` elements.
void require_tensor(const std::string& name, const float* data, int64_t count, const std::string& owner,
                    const ExpectedCount& expected) {
    if (data == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, name + " is NULL but " + owner + " needs it");
    }
    require_count((name + "_count").c_str(), count, owner.c_str(), expected);
}

// A tensor that must be absent (NULL, count 0) because `reason`.
void require_absent_tensor(const std::string& name, const float* data, int64_t count, const char* reason) {
    if (data != nullptr || count != 0) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, name + " must be NULL with count 0 because " + reason + " (got " +
                                               (data != nullptr ? "a pointer" : "NULL") + " with count " +
                                               to_string(count) + ")");
    }
}

// An optional buffer: NULL with count 0, or present with the expected count.
template <class T>
bool check_optional_buffer(const char* name, const char* count_name, const T* data, int64_t count,
                           const ExpectedCount& expected) {
    if (data == nullptr) {
        if (count != 0) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(name) + " is NULL but " + count_name + " is " +
                                                   to_string(count) + "; an absent buffer has count 0");
        }
        return false;
    }
    require_count(count_name, count, "the model", expected);
    return true;
}

// A buffer only LSTM has (c0, cn): must be absent for the other cells.
void require_no_cell_state_buffer(const char* name, const float* data, int64_t count) {
    if (data != nullptr || count != 0) {
        require_absent_tensor(name, data, count, "only LSTM has a cell state");
    }
}

struct ByteRange {
    const char* name;
    uintptr_t begin;
    uintptr_t end;
    bool written;
    int state_slot;  // the same non-zero value for h0/hn (1) and c0/cn (2), which may share memory
};

template <class T>
ByteRange byte_range(const char* name, const T* data, int64_t count, bool written, int state_slot = 0) {
    auto begin = reinterpret_cast<uintptr_t>(data);
    return {name, begin, begin + static_cast<uintptr_t>(count) * sizeof(T), written, state_slot};
}

// Outputs must not overlap anything else, except that state may be updated in place (hn == h0, cn == c0).
void require_no_overlap(const frnn_forward_args& args) {
    const ByteRange ranges[] = {
        byte_range("x", args.x, args.x_count, false),
        byte_range("h0", args.h0, args.h0_count, false, 1),
        byte_range("c0", args.c0, args.c0_count, false, 2),
        byte_range("lengths", args.lengths, args.lengths_count, false),
        byte_range("y", args.y, args.y_count, true),
        byte_range("hn", args.hn, args.hn_count, true, 1),
        byte_range("cn", args.cn, args.cn_count, true, 2),
    };
    for (const ByteRange& a : ranges) {
        for (const ByteRange& b : ranges) {
            // Absent buffers have count 0, hence empty ranges that overlap nothing.
            bool overlap = &a < &b && a.begin < b.end && b.begin < a.end;
            bool in_place_state = a.state_slot != 0 && a.state_slot == b.state_slot && a.begin == b.begin &&
                                  a.end == b.end;
            if (overlap && (a.written || b.written) && !in_place_state) {
                fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(a.name) + " and " + b.name +
                                                       " overlap; only hn == h0 and cn == c0 may share memory");
            }
        }
    }
}

const char* activation_name(int32_t kind) {
    switch (kind) {
    case FRNN_ACTIVATION_DEFAULT: return "DEFAULT";
    case FRNN_ACTIVATION_IDENTITY: return "IDENTITY";
    case FRNN_ACTIVATION_RELU: return "RELU";
    case FRNN_ACTIVATION_TANH: return "TANH";
    case FRNN_ACTIVATION_SIGMOID: return "SIGMOID";
    case FRNN_ACTIVATION_AFFINE: return "AFFINE";
    case FRNN_ACTIVATION_LEAKY_RELU: return "LEAKY_RELU";
    case FRNN_ACTIVATION_THRESHOLDED_RELU: return "THRESHOLDED_RELU";
    case FRNN_ACTIVATION_SCALED_TANH: return "SCALED_TANH";
    case FRNN_ACTIVATION_HARD_SIGMOID: return "HARD_SIGMOID";
    case FRNN_ACTIVATION_ELU: return "ELU";
    case FRNN_ACTIVATION_SOFTSIGN: return "SOFTSIGN";
    case FRNN_ACTIVATION_SOFTPLUS: return "SOFTPLUS";
    }
    return "unknown";
}

bool takes_alpha(int32_t kind) {
    return kind == FRNN_ACTIVATION_AFFINE || kind == FRNN_ACTIVATION_LEAKY_RELU ||
           kind == FRNN_ACTIVATION_THRESHOLDED_RELU || kind == FRNN_ACTIVATION_SCALED_TANH ||
           kind == FRNN_ACTIVATION_HARD_SIGMOID || kind == FRNN_ACTIVATION_ELU;
}

bool takes_beta(int32_t kind) {
    return kind == FRNN_ACTIVATION_AFFINE || kind == FRNN_ACTIVATION_SCALED_TANH ||
           kind == FRNN_ACTIVATION_HARD_SIGMOID;
}

std::string format_float(float value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", static_cast<double>(value));
    return text;
}

// A parameter of an activation: finite where the kind takes it, else exactly 0.
void require_parameter(const std::string& name, float value, bool taken, int32_t kind) {
    if (taken && !std::isfinite(value)) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, name + " is " + format_float(value) + " but " + activation_name(kind) +
                                               " needs a finite value");
    }
    if (!taken && value != 0.0f) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, name + " is " + format_float(value) + " but " + activation_name(kind) +
                                               " takes no such parameter; it must be 0");
    }
}

// One role's activation: a known kind with its parameters, or DEFAULT (zero parameters) for a role the cell lacks
// (`absent_because` says why it is absent, null when the role exists). DEFAULT resolves to `pytorch`.
Activation resolve_activation(const frnn_activation& given, const std::string& name, const char* absent_because,
                              const Activation& pytorch) {
    require_range((name + ".kind").c_str(), given.kind, FRNN_ACTIVATION_DEFAULT, FRNN_ACTIVATION_SOFTPLUS);
    require_parameter(name + ".alpha", given.alpha, takes_alpha(given.kind), given.kind);
    require_parameter(name + ".beta", given.beta, takes_beta(given.kind), given.kind);
    if (absent_because != nullptr && given.kind != FRNN_ACTIVATION_DEFAULT) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, name + ".kind is " + activation_name(given.kind) + " but " + absent_because +
                                               "; leave it DEFAULT (0)");
    }
    if (given.kind == FRNN_ACTIVATION_DEFAULT) {
        return pytorch;
    }
    return {static_cast<frnn_activation_kind>(given.kind), given.alpha, given.beta};
}

// PyTorch's activations of a cell kind.
CellActivations pytorch_activations(frnn_cell_kind kind) {
    const Activation sigmoid{FRNN_ACTIVATION_SIGMOID, 0.0f, 0.0f};
    const Activation tanh{FRNN_ACTIVATION_TANH, 0.0f, 0.0f};
    const Activation relu{FRNN_ACTIVATION_RELU, 0.0f, 0.0f};
    switch (kind) {
    case FRNN_CELL_LSTM:
    case FRNN_CELL_GRU: return {sigmoid, tanh, tanh};
    case FRNN_CELL_RNN_TANH: return {tanh, tanh, tanh};
    case FRNN_CELL_RNN_RELU: return {relu, tanh, tanh};
    }
    return {sigmoid, tanh, tanh};  // unreachable: the kind was validated
}

CellActivations resolve_activations(const frnn_cell_activations& given, const char* name, frnn_cell_kind kind,
                                    const char* absent_direction) {
    const CellActivations pytorch = pytorch_activations(kind);
    const std::string prefix = std::string("spec->") + name;
    const bool is_lstm = kind == FRNN_CELL_LSTM;
    const bool is_rnn = kind == FRNN_CELL_RNN_TANH || kind == FRNN_CELL_RNN_RELU;
    const char* no_candidate = is_rnn ? "an RNN has one activation (gates)" : nullptr;
    const char* no_output = is_lstm ? nullptr : is_rnn ? "an RNN has one activation (gates)" : "GRU has no output activation";
    return {resolve_activation(given.gates, prefix + ".gates", absent_direction, pytorch.gates),
            resolve_activation(given.candidate, prefix + ".candidate",
                               absent_direction != nullptr ? absent_direction : no_candidate, pytorch.candidate),
            resolve_activation(given.output, prefix + ".output",
                               absent_direction != nullptr ? absent_direction : no_output, pytorch.output)};
}

// A flag only some cell kinds have.
bool require_cell_flag(const bool& field, const char* name, bool allowed, const char* owner) {
    const bool value = require_bool(field, name);
    if (value && !allowed) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(name) + " is 1 but " + owner);
    }
    return value;
}

}  // namespace

namespace {

// The caller's struct as this library's (see read_spec): `type` names it in messages.
template <class Spec>
Spec read_sized_struct(const Spec* caller_spec, uint32_t first_size, const char* type) {
    require_not_null(caller_spec, "spec");
    // Only struct_size is read before it is checked: the caller's struct may be shorter than this library's.
    uint32_t caller_size = 0;
    std::memcpy(&caller_size, caller_spec, sizeof caller_size);
    constexpr uint32_t known_size = sizeof(Spec);
    // One longer than any version could define (a garbage size) is not read at all.
    constexpr uint32_t largest_plausible_size = 4096;
    const std::string name(type);
    if (caller_size < first_size) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "spec->struct_size is " + to_string(caller_size) + " but must be sizeof(" +
                                               name + "), " + to_string(known_size) +
                                               " in the fusedrnn.h of this library (ABI " +
                                               to_string(FRNN_ABI_VERSION) + ")");
    }
    if (caller_size > largest_plausible_size) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "spec->struct_size is " + to_string(caller_size) + ", more than any " +
                                               name + " (set it to sizeof(" + name + "))");
    }
    Spec spec{};
    std::memcpy(&spec, caller_spec, std::min(caller_size, known_size));
    // A newer header's fields this library does not know: refused if the caller set any of them.
    const auto* bytes = reinterpret_cast<const unsigned char*>(caller_spec);
    for (uint32_t offset = known_size; offset < caller_size; ++offset) {
        if (bytes[offset] != 0) {
            fail(FRNN_STATUS_UNSUPPORTED, "spec->struct_size is " + to_string(caller_size) + " and byte " +
                                              to_string(offset) + " is set, but this library's " + name + " has " +
                                              to_string(known_size) + " bytes (ABI " + to_string(FRNN_ABI_VERSION) +
                                              "): the caller uses a field of a newer fusedrnn.h");
        }
    }
    spec.struct_size = known_size;
    return spec;
}

}  // namespace

frnn_model_spec read_spec(const frnn_model_spec* caller_spec) {
    return read_sized_struct(caller_spec, first_model_spec_size, "frnn_model_spec");
}

frnn_dense_spec read_dense_spec(const frnn_dense_spec* caller_spec) {
    return read_sized_struct(caller_spec, first_dense_spec_size, "frnn_dense_spec");
}

DenseShape validate_dense(const frnn_dense_spec& spec, const float* weight, int64_t weight_count, const float* bias,
                          int64_t bias_count) {
    require_range("spec->input_size", spec.input_size, 1, INT32_MAX);
    require_range("spec->output_size", spec.output_size, 1, INT32_MAX);
    require_range("spec->activation", spec.activation, FRNN_DENSE_IDENTITY, FRNN_DENSE_LOG_SOFTMAX);
    require_range("spec->num_threads", spec.num_threads, 0, INT32_MAX);
    require_range("spec->precision", spec.precision, FRNN_PRECISION_FLOAT32, FRNN_PRECISION_FLOAT64);
    const bool has_bias = require_bool(spec.has_bias, "spec->has_bias");
    require_zero_reserved(spec.reserved, "spec->reserved");
    const Factor outputs{"output_size", spec.output_size};
    require_tensor("weight", weight, weight_count, "the dense layer", {{outputs, {"input_size", spec.input_size}}});
    if (has_bias) {
        require_tensor("bias", bias, bias_count, "the dense layer", {{outputs}});
    } else {
        require_absent_tensor("bias", bias, bias_count, "spec->has_bias is 0");
    }
    return {spec.input_size, spec.output_size, spec.activation, spec.precision};
}

void validate_dense_forward(const DenseShape& shape, int64_t rows, const float* x, int64_t x_count, const float* y,
                            int64_t y_count) {
    require_range("rows", rows, 1, INT32_MAX);
    const Factor row_count{"rows", rows};
    if (x == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, "x is NULL");
    }
    if (y == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, "y is NULL");
    }
    require_count("x_count", x_count, "the dense layer", {{row_count, {"input_size", shape.input_size}}});
    require_count("y_count", y_count, "the dense layer", {{row_count, {"output_size", shape.output_size}}});
    const ByteRange input = byte_range("x", x, x_count, false);
    const ByteRange output = byte_range("y", y, y_count, true);
    if (input.begin < output.end && output.begin < input.end) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "x and y overlap; a dense layer writes y while it reads x");
    }
}

ModelShape validate_spec(const frnn_model_spec* spec) {
    require_not_null(spec, "spec");
    require_range("spec->cell_kind", spec->cell_kind, FRNN_CELL_LSTM, FRNN_CELL_RNN_RELU);
    require_range("spec->input_size", spec->input_size, 1, INT32_MAX);
    require_range("spec->hidden_size", spec->hidden_size, 1, INT32_MAX);
    require_range("spec->num_layers", spec->num_layers, 1, INT32_MAX);
    require_range("spec->num_directions", spec->num_directions, 1, 2);
    require_range("spec->num_threads", spec->num_threads, 0, INT32_MAX);
    require_range("spec->precision", spec->precision, FRNN_PRECISION_FLOAT32, FRNN_PRECISION_FLOAT64);
    const bool has_bias = require_bool(spec->has_bias, "spec->has_bias");
    require_zero_reserved(spec->reserved, "spec->reserved");

    auto kind = static_cast<frnn_cell_kind>(spec->cell_kind);
    CellVariant cell;
    cell.peepholes = require_cell_flag(spec->has_peepholes, "spec->has_peepholes", kind == FRNN_CELL_LSTM,
                                       "only LSTM has peepholes");
    cell.coupled_input_forget = require_cell_flag(spec->coupled_input_forget, "spec->coupled_input_forget",
                                                  kind == FRNN_CELL_LSTM, "only LSTM has an input and a forget gate");
    cell.reset_before_product = require_cell_flag(spec->reset_before_product, "spec->reset_before_product",
                                                  kind == FRNN_CELL_GRU, "only GRU has a reset gate");
    if (!(spec->clip == 0.0f || (spec->clip > 0.0f && std::isfinite(spec->clip)))) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "spec->clip is " + format_float(spec->clip) +
                                               " but must be 0 (no clip) or a finite positive bound");
    }
    cell.clip = spec->clip;
    cell.activations[0] = resolve_activations(spec->forward_activations, "forward_activations", kind, nullptr);
    cell.activations[1] = resolve_activations(spec->reverse_activations, "reverse_activations", kind,
                                              spec->num_directions == 2 ? nullptr : "num_directions is 1");
    if (spec->proj_size != 0) {
        if (kind != FRNN_CELL_LSTM) {
            fail(FRNN_STATUS_INVALID_ARGUMENT, "spec->proj_size is " + to_string(spec->proj_size) + " but " +
                                                   cell_kind_name(kind) + " has no projection; only LSTM does (use 0)");
        }
        // PyTorch requires 0 < proj_size < hidden_size.
        require_range("spec->proj_size", spec->proj_size, 1, int64_t{spec->hidden_size} - 1);
    }

    ModelShape shape{};
    shape.cell_kind = kind;
    shape.gate_count = kind == FRNN_CELL_LSTM ? 4 : kind == FRNN_CELL_GRU ? 3 : 1;
    shape.input_size = spec->input_size;
    shape.hidden_size = spec->hidden_size;
    shape.output_size = spec->proj_size > 0 ? spec->proj_size : spec->hidden_size;
    shape.num_layers = spec->num_layers;
    shape.num_directions = spec->num_directions;
    shape.has_bias = has_bias;
    shape.has_projection = spec->proj_size > 0;
    shape.precision = static_cast<frnn_precision>(spec->precision);
    shape.cell = cell;
    shape.pytorch_activations = pytorch_activations(kind);
    return shape;
}

void validate_weights(const ModelShape& shape, const frnn_layer_weights* weights, int32_t weights_count) {
    require_not_null(weights, "weights");
    require_count("weights_count", weights_count, "the spec",
                  {{{"num_layers", shape.num_layers}, {"num_directions", shape.num_directions}}});

    const Factor gates{"gates", shape.gate_count};
    const Factor hidden{"hidden_size", shape.hidden_size};
    const Factor hidden_out{shape.has_projection ? "proj_size" : "hidden_size", shape.output_size};
    for (int64_t layer = 0; layer < shape.num_layers; ++layer) {
        for (int64_t direction = 0; direction < shape.num_directions; ++direction) {
            const int64_t index = layer * shape.num_directions + direction;
            const frnn_layer_weights& entry = weights[index];
            const std::string prefix = "weights[" + to_string(index) + "].";
            const std::string owner = "layer " + to_string(layer) + (direction == 0 ? "" : " reverse");
            const Factor layer_input{layer == 0 ? "input_size" : "num_directions*out_size",
                                     shape.layer_input_size(layer)};

            require_tensor(prefix + "weight_ih", entry.weight_ih, entry.weight_ih_count, owner,
                           {{gates, hidden, layer_input}});
            require_tensor(prefix + "weight_hh", entry.weight_hh, entry.weight_hh_count, owner,
                           {{gates, hidden, hidden_out}});
            if (shape.has_bias) {
                require_tensor(prefix + "bias_ih", entry.bias_ih, entry.bias_ih_count, owner, {{gates, hidden}});
                require_tensor(prefix + "bias_hh", entry.bias_hh, entry.bias_hh_count, owner, {{gates, hidden}});
            } else {
                require_absent_tensor(prefix + "bias_ih", entry.bias_ih, entry.bias_ih_count, "spec->has_bias is 0");
                require_absent_tensor(prefix + "bias_hh", entry.bias_hh, entry.bias_hh_count, "spec->has_bias is 0");
            }
            if (shape.cell.peepholes) {
                require_tensor(prefix + "weight_p", entry.weight_p, entry.weight_p_count, owner,
                               {{{"peepholes", 3}, hidden}});
            } else {
                require_absent_tensor(prefix + "weight_p", entry.weight_p, entry.weight_p_count,
                                      "spec->has_peepholes is 0");
            }
            if (shape.has_projection) {
                require_tensor(prefix + "weight_hr", entry.weight_hr, entry.weight_hr_count, owner,
                               {{hidden_out, hidden}});
            } else {
                require_absent_tensor(prefix + "weight_hr", entry.weight_hr, entry.weight_hr_count,
                                      "spec->proj_size is 0");
            }
        }
    }
}

ForwardShape validate_forward_args(const ModelShape& shape, const frnn_forward_args* args) {
    require_not_null(args, "args");
    require_range("args->seq_len", args->seq_len, 1, INT32_MAX);
    require_range("args->batch", args->batch, 1, INT32_MAX);
    const bool batch_first = require_bool(args->batch_first, "args->batch_first");
    require_zero_reserved(args->reserved, "args->reserved");

    const Factor seq_len{"seq_len", args->seq_len};
    const Factor batch{"batch", args->batch};
    const Factor layers_directions{"num_layers*num_directions", shape.num_layers * shape.num_directions};
    const Factor hidden{"hidden_size", shape.hidden_size};
    const Factor out_size{shape.has_projection ? "proj_size" : "hidden_size", shape.output_size};
    const Factor output_width{"num_directions*out_size", shape.num_directions * shape.output_size};

    if (args->x == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, "x is NULL");
    }
    require_count("x_count", args->x_count, "the model", {{seq_len, batch, {"input_size", shape.input_size}}});
    check_optional_buffer("h0", "h0_count", args->h0, args->h0_count, {{layers_directions, batch, out_size}});
    check_optional_buffer("y", "y_count", args->y, args->y_count, {{seq_len, batch, output_width}});
    check_optional_buffer("hn", "hn_count", args->hn, args->hn_count, {{layers_directions, batch, out_size}});
    if (shape.has_cell_state()) {
        check_optional_buffer("c0", "c0_count", args->c0, args->c0_count, {{layers_directions, batch, hidden}});
        check_optional_buffer("cn", "cn_count", args->cn, args->cn_count, {{layers_directions, batch, hidden}});
    } else {
        require_no_cell_state_buffer("c0", args->c0, args->c0_count);
        require_no_cell_state_buffer("cn", args->cn, args->cn_count);
    }
    if (check_optional_buffer("lengths", "lengths_count", args->lengths, args->lengths_count, {{batch}})) {
        for (int32_t row = 0; row < args->batch; ++row) {
            int32_t length = args->lengths[row];
            if (length < 1 || length > args->seq_len) {
                require_range(("lengths[" + to_string(row) + "]").c_str(), length, 1, args->seq_len);
            }
        }
    }
    require_no_overlap(*args);

    // Sizes the kernels address must fit in int64 (the workspace adds a few more of the same order).
    checked_product({args->seq_len, args->batch, shape.gate_rows(), shape.num_directions}, "seq_len*batch*gates*hidden_size");
    return {args->seq_len, args->batch, batch_first};
}

int64_t slot_values(const ModelShape& shape) {
    if (shape.num_directions != 1) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "the model is bidirectional: its reverse direction reads a sequence from its "
                                           "end, so it cannot be stepped one time step at a time");
    }
    const char* const what = "a stream's state slot";
    return checked_sum({checked_product({shape.num_layers, shape.output_size}, what),
                        shape.has_cell_state() ? checked_product({shape.num_layers, shape.hidden_size}, what) : 0},
                       what);
}

void validate_slot_step(const ModelShape& shape, const frnn_slot_step_args* args, std::vector<int32_t>& sorted_slots) {
    const int64_t values = slot_values(shape);
    require_not_null(args, "args");
    require_range("args->batch", args->batch, 1, INT32_MAX);
    require_range("args->slot_count", args->slot_count, 1, INT32_MAX);
    const Factor batch{"batch", args->batch};
    if (args->slots == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, "slots is NULL");
    }
    require_count("slots_count", args->slots_count, "the call", {{batch}});
    if (args->state == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, "state is NULL");
    }
    const int64_t value_bytes = shape.precision == FRNN_PRECISION_FLOAT64 ? 8 : 4;
    require_count("state_bytes", args->state_bytes, "the model",
                  {{{"slot_count", args->slot_count}, {"slot values", values}, {"bytes per value", value_bytes}}});
    if (reinterpret_cast<uintptr_t>(args->state) % static_cast<uintptr_t>(value_bytes) != 0) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "state is not aligned to " + to_string(value_bytes) +
                                               " bytes, the size of the model's arithmetic type");
    }
    if (args->x == nullptr) {
        fail(FRNN_STATUS_NULL_POINTER, "x is NULL");
    }
    require_count("x_count", args->x_count, "the model", {{batch, {"input_size", shape.input_size}}});
    check_optional_buffer("y", "y_count", args->y, args->y_count,
                          {{batch, {shape.has_projection ? "proj_size" : "hidden_size", shape.output_size}}});
    const ByteRange ranges[] = {
        byte_range("slots", args->slots, args->slots_count, false),
        byte_range("state", args->state, args->state_bytes, true),
        byte_range("x", args->x, args->x_count, false),
        byte_range("y", args->y, args->y_count, true),
    };
    for (const ByteRange& a : ranges) {
        for (const ByteRange& b : ranges) {
            if (&a < &b && a.begin < b.end && b.begin < a.end && (a.written || b.written)) {
                fail(FRNN_STATUS_INVALID_ARGUMENT, std::string(a.name) + " and " + b.name + " overlap");
            }
        }
    }
    for (int32_t row = 0; row < args->batch; ++row) {
        if (args->slots[row] < 0 || args->slots[row] >= args->slot_count) {
            require_range(("slots[" + to_string(row) + "]").c_str(), args->slots[row], 0, args->slot_count - 1);
        }
    }
    // Two rows of one slot would both read its old state and race to write their new ones.
    sorted_slots.assign(args->slots, args->slots + args->batch);
    std::sort(sorted_slots.begin(), sorted_slots.end());
    const auto repeated = std::adjacent_find(sorted_slots.begin(), sorted_slots.end());
    if (repeated != sorted_slots.end()) {
        fail(FRNN_STATUS_INVALID_ARGUMENT, "slot " + to_string(*repeated) +
                                               " appears more than once in slots; each stream steps once per call");
    }
    checked_product({args->batch, shape.gate_rows()}, "batch*gates*hidden_size");
}

}  // namespace fusedrnn
