// libFuzzer harness over the C ABI: a model from a fuzzed spec and weights, then a forward call with fuzzed shapes,
// lengths, state and buffers (counts off by one, missing pointers, overlapping or in-place buffers, bytes that are
// not bools). Besides the sanitizers (ASan, UBSan, LeakSanitizer), it checks what the ABI promises:
//  - no call returns FRNN_STATUS_INTERNAL, and every failure leaves a message and no output buffer written;
//  - overlapping outputs are rejected;
//  - results do not depend on the thread count nor on the chunk budget (FUSEDRNN_CHUNK_BYTES): the same call on a
//    single-threaded copy of the model, with a workspace of a fuzzed small budget, gives the same status and the
//    same bits (any NaN for a NaN: see same_results), and so does the call repeated on a reused workspace.
// Then one time step of streams in state slots (frnn_model_step_slots) of the same model, with fuzzed slot tables
// (repeated, out of range), counts, alignment and overlaps: the same status, slots and bits on one thread, nothing
// written on failure. Then a dense layer (frnn_dense_*) from fuzzed bytes on the same workspaces, checked the same ways.
// Input format (native/README.md, "Fuzzing"): one byte per field, in the order read below; missing bytes read as 0.
#include <fusedrnn.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

[[noreturn]] void violated(const char* what) {
    std::fprintf(stderr, "fusedrnn_fuzz: %s (last error: \"%s\")\n", what, frnn_last_error());
    std::abort();
}

void check(bool condition, const char* what) {
    if (!condition) {
        violated(what);
    }
}

// Reads the input front to back; past its end every byte is 0 (the smallest valid value of most fields).
class Reader {
public:
    Reader(const uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    uint8_t byte() { return offset_ < size_ ? data_[offset_++] : 0; }

    // lo + byte % (hi - lo + 1) for bytes below 0xF0; the 16 bytes above pick values a caller should not pass.
    int32_t in_range(int32_t lo, int32_t hi) {
        static constexpr int32_t wild[16] = {0,     -1,    -2,   std::numeric_limits<int32_t>::min(),
                                             std::numeric_limits<int32_t>::max(),   4096,   1 << 20, 1 << 30,
                                             100,   1000,  3,    -100,  7,    13,    2,    1};
        const uint8_t value = byte();
        return value < 0xF0 ? lo + value % (hi - lo + 1) : wild[value - 0xF0];
    }

    // A bool field's byte: mostly 0 or 1, from 0xF0 on the raw byte (not a bool).
    uint8_t bool_byte() {
        const uint8_t value = byte();
        return value < 0xF0 ? value & 1 : value;
    }

private:
    const uint8_t* data_;
    std::size_t size_;
    std::size_t offset_ = 0;
};

int64_t gate_count(int32_t kind) { return kind == FRNN_CELL_LSTM ? 4 : kind == FRNN_CELL_GRU ? 3 : 1; }

// Element counts can come out of fuzzed sizes as anything; the harness never allocates more than this per buffer
// and claims no more (a larger expected count is then simply a mismatch the library must report). Also what keeps
// an input fast: a valid call has at most this many rows.
constexpr int64_t max_elements = int64_t{1} << 16;

int64_t claimable(int64_t a, int64_t b, int64_t c, int64_t d = 1) {
    if (a <= 0 || b <= 0 || c <= 0 || d <= 0) {
        return 0;
    }
    const long double product = static_cast<long double>(a) * b * c * d;
    return product > static_cast<long double>(max_elements) ? max_elements : a * b * c * d;
}

// Values a fuzzed float takes: mostly uniform in +-scale, sometimes one that arithmetic must survive.
float special_float(uint8_t kind) {
    switch (kind % 8) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: return std::numeric_limits<float>::infinity();
    case 2: return -std::numeric_limits<float>::infinity();
    case 3: return std::numeric_limits<float>::denorm_min();
    case 4: return std::numeric_limits<float>::max();
    case 5: return -0.0f;
    case 6: return 1e30f;
    default: return -88.7f;  // near where exp(-x) overflows float
    }
}

std::vector<float> random_values(std::mt19937& generator, int64_t count, float scale) {
    std::uniform_real_distribution<float> distribution(-scale, scale);
    std::vector<float> values(static_cast<std::size_t>(count));
    for (float& value : values) {
        value = distribution(generator);
    }
    return values;
}

// A few values of `values` replaced by special ones, at fuzzed positions.
void inject_specials(Reader& in, std::vector<float>& values) {
    const int count = in.byte() % 4;
    for (int index = 0; index < count; ++index) {
        const std::size_t at = (std::size_t{in.byte()} << 8 | in.byte());
        const uint8_t kind = in.byte();
        if (!values.empty()) {
            values[at % values.size()] = special_float(kind);
        }
    }
}

struct Tensor {
    std::vector<float> values;
    const float* pointer() const { return values.empty() ? nullptr : values.data(); }
};

struct LayerTensors {
    Tensor weight_ih, weight_hh, bias_ih, bias_hh, weight_hr, weight_p;
};

// A fuzzed activation: mostly a valid kind with sane parameters, sometimes a wild kind or a non-finite parameter.
frnn_activation fuzzed_activation(Reader& in) {
    static constexpr float parameters[8] = {0.0f, 0.5f, 1.0f, -0.25f, 0.01f, 2.0f, NAN, INFINITY};
    frnn_activation activation{};
    activation.kind = in.in_range(FRNN_ACTIVATION_DEFAULT, FRNN_ACTIVATION_SOFTPLUS);
    const uint8_t choice = in.byte();
    activation.alpha = parameters[choice & 7];
    activation.beta = parameters[(choice >> 3) & 7];
    return activation;
}

// A caller's spec as a newer header could lay it out: this library's struct, then `extension` more bytes (read only
// when spec.struct_size covers them).
struct ExtendedSpec {
    frnn_model_spec spec;
    uint8_t extension[8];
};

// The contract of every create call: never INTERNAL; on failure *out is NULL and there is a message; on success an
// object. `object` is what the call left in its out-parameter.
template <class Object>
Object* created(frnn_status status, Object* object, const std::string& function) {
    check(status != FRNN_STATUS_INTERNAL, (function + ": internal error").c_str());
    if (status != FRNN_STATUS_OK) {
        check(object == nullptr, (function + " failed but set its out-parameter").c_str());
        check(frnn_last_error()[0] != '\0', (function + " failed without a message").c_str());
        return nullptr;
    }
    check(object != nullptr, (function + " succeeded without an object").c_str());
    return object;
}

// The contract of every call that writes buffers inside `arena`: never INTERNAL, and a failure leaves a message and
// every buffer as it was. Returns the call's status.
template <class Call>
frnn_status run_call(const std::vector<float>& arena, const std::string& function, Call call) {
    const std::vector<float> before = arena;
    const frnn_status status = call();
    check(status != FRNN_STATUS_INTERNAL, (function + ": internal error").c_str());
    if (status != FRNN_STATUS_OK) {
        check(frnn_last_error()[0] != '\0', (function + " failed without a message").c_str());
        check(std::memcmp(before.data(), arena.data(), before.size() * sizeof(float)) == 0,
              (function + " failed but wrote a buffer").c_str());
    }
    return status;
}

frnn_model* create_model(const ExtendedSpec& caller, const std::vector<frnn_layer_weights>& views, int32_t count) {
    frnn_model* model = reinterpret_cast<frnn_model*>(&model);  // must be overwritten, with NULL on failure
    return created(frnn_model_create(&caller.spec, views.data(), count, &model), model, "frnn_model_create");
}

// The buffers of one forward call, all inside one arena so that a fuzzed overlap stays inside memory we own.
struct CallBuffers {
    std::vector<float> arena;
    std::vector<int32_t> lengths;
    frnn_forward_args args{};
};

// Where each float buffer sits in the arena, and its claimed count (0 = absent).
struct Plan {
    int64_t x_count, h0_count, c0_count, y_count, hn_count, cn_count;
    bool hn_is_h0, cn_is_c0;  // state updated in place
    int overlap;              // 0 none, else which output is moved into another buffer
};

constexpr uint32_t sentinel_bits = 0x7fa5a5a5u;  // a NaN no computation produces

CallBuffers make_call(const Plan& plan, const std::vector<float>& x, const std::vector<float>& h0,
                      const std::vector<float>& c0, const std::vector<int32_t>& lengths, const frnn_forward_args& shape) {
    CallBuffers call;
    const int64_t total = plan.x_count + plan.h0_count + plan.c0_count + plan.y_count + plan.hn_count + plan.cn_count;
    float sentinel;
    std::memcpy(&sentinel, &sentinel_bits, sizeof sentinel);
    // Slack at the end: a buffer moved onto another still ends inside the arena.
    call.arena.assign(static_cast<std::size_t>(2 * total + 1), sentinel);
    int64_t next = 0;
    auto take = [&](int64_t count) {
        float* at = count > 0 ? call.arena.data() + next : nullptr;
        next += count;
        return at;
    };
    frnn_forward_args& args = call.args;
    args = shape;
    float* x_at = take(plan.x_count);
    float* h0_at = take(plan.h0_count);
    float* c0_at = take(plan.c0_count);
    args.y = take(plan.y_count);
    args.hn = plan.hn_is_h0 ? h0_at : take(plan.hn_count);
    args.cn = plan.cn_is_c0 ? c0_at : take(plan.cn_count);
    std::copy(x.begin(), x.begin() + plan.x_count, x_at != nullptr ? x_at : call.arena.data());
    if (h0_at != nullptr) {
        std::copy(h0.begin(), h0.begin() + plan.h0_count, h0_at);
    }
    if (c0_at != nullptr) {
        std::copy(c0.begin(), c0.begin() + plan.c0_count, c0_at);
    }
    args.x = x_at;
    args.x_count = plan.x_count;
    args.h0 = h0_at;
    args.h0_count = plan.h0_count;
    args.c0 = c0_at;
    args.c0_count = plan.c0_count;
    args.y_count = plan.y_count;
    args.hn_count = plan.hn_count;
    args.cn_count = plan.cn_count;
    // An output moved one element into x or into another output: must be rejected (counts > 1 make them overlap).
    if (plan.overlap == 1 && args.y != nullptr && x_at != nullptr) {
        args.y = x_at + 1;
    } else if (plan.overlap == 2 && args.hn != nullptr && args.y != nullptr) {
        args.hn = args.y + 1;
    } else if (plan.overlap == 3 && args.cn != nullptr && h0_at != nullptr) {
        args.cn = h0_at + 1;
    }
    call.lengths = lengths;
    args.lengths = call.lengths.empty() ? nullptr : call.lengths.data();
    args.lengths_count = static_cast<int64_t>(call.lengths.size());
    return call;
}

// Whether an output overlaps another buffer, other than hn == h0 or cn == c0 exactly (in place).
bool outputs_overlap(const frnn_forward_args& args) {
    struct Span {
        const float* begin;
        int64_t count;
    };
    // Inputs x, h0, c0, then outputs y, hn, cn; in place, input 1 + k may be output 4 + k.
    const Span spans[] = {{args.x, args.x_count}, {args.h0, args.h0_count}, {args.c0, args.c0_count},
                          {args.y, args.y_count}, {args.hn, args.hn_count}, {args.cn, args.cn_count}};
    for (int output = 3; output < 6; ++output) {
        for (int other = 0; other < 6; ++other) {
            const Span& a = spans[output];
            const Span& b = spans[other];
            const bool in_place = (output == 4 || output == 5) && other == output - 3 && a.begin == b.begin &&
                                  a.count == b.count;
            if (other != output && !in_place && a.count > 0 && b.count > 0 && a.begin < b.begin + b.count &&
                b.begin < a.begin + a.count) {
                return true;
            }
        }
    }
    return false;
}

frnn_status forward(const frnn_model* model, frnn_workspace* workspace, CallBuffers& call) {
    return run_call(call.arena, "frnn_model_forward", [&] { return frnn_model_forward(model, workspace, &call.args); });
}

// Equal bit for bit, except that any NaN equals any NaN: which operand's NaN an FMA passes on depends on the form
// the compiler picked for the instruction, which can differ between tile shapes (the rows a GEMM call gets).
bool same_results(const std::vector<float>& a, const std::vector<float>& b) {
    if (a.size() != b.size()) {
        return false;
    }
    for (std::size_t index = 0; index < a.size(); ++index) {
        const bool both_nan = std::isnan(a[index]) && std::isnan(b[index]);
        if (!both_nan && std::memcmp(&a[index], &b[index], sizeof(float)) != 0) {
            return false;
        }
    }
    return true;
}

void set_chunk_budget(const char* value) {
    if (value != nullptr) {
        setenv("FUSEDRNN_CHUNK_BYTES", value, 1);
    } else {
        unsetenv("FUSEDRNN_CHUNK_BYTES");
    }
}

frnn_workspace* create_workspace(const frnn_model* model) {
    frnn_workspace* workspace = nullptr;
    check(frnn_workspace_create(model, &workspace) == FRNN_STATUS_OK, "frnn_workspace_create failed");
    return workspace;
}

// As ExtendedSpec, for a dense layer's spec.
struct ExtendedDenseSpec {
    frnn_dense_spec spec;
    uint8_t extension[8];
};

frnn_dense* create_dense(const frnn_dense_spec& spec, const Tensor& weight, int64_t weight_count, const Tensor& bias) {
    frnn_dense* dense = reinterpret_cast<frnn_dense*>(&dense);  // must be overwritten, with NULL on failure
    return created(frnn_dense_create(&spec, weight.pointer(), weight_count, bias.pointer(),
                                     static_cast<int64_t>(bias.values.size()), &dense),
                   dense, "frnn_dense_create");
}

// x then y in one arena (y starts as sentinels), so that a fuzzed overlap stays inside memory we own.
struct DenseCall {
    std::vector<float> arena;
    float* x;
    float* y;
};

DenseCall make_dense_call(const std::vector<float>& x, int64_t x_count, int64_t y_count, bool overlap) {
    DenseCall call;
    float sentinel;
    std::memcpy(&sentinel, &sentinel_bits, sizeof sentinel);
    call.arena.assign(static_cast<std::size_t>(x_count + y_count + 1), sentinel);
    std::copy(x.begin(), x.begin() + x_count, call.arena.begin());
    call.x = call.arena.data();
    call.y = overlap ? call.arena.data() + 1 : call.arena.data() + x_count;
    return call;
}

frnn_status dense_forward(const frnn_dense* dense, frnn_workspace* workspace, int64_t rows, DenseCall& call,
                          int64_t x_count, int64_t y_count) {
    return run_call(call.arena, "frnn_dense_forward",
                    [&] { return frnn_dense_forward(dense, workspace, rows, call.x, x_count, call.y, y_count); });
}

// Equal as values of the state's type (float, or double for a FLOAT64 model), any NaN equal to any NaN.
bool same_state(const std::vector<float>& a, const std::vector<float>& b, int64_t floats, bool float64) {
    for (int64_t index = 0; index < floats; index += float64 ? 2 : 1) {
        double left = 0, right = 0;
        if (float64) {
            std::memcpy(&left, a.data() + index, sizeof left);
            std::memcpy(&right, b.data() + index, sizeof right);
        } else {
            left = static_cast<double>(a[static_cast<std::size_t>(index)]);
            right = static_cast<double>(b[static_cast<std::size_t>(index)]);
        }
        if (!(std::isnan(left) && std::isnan(right)) && std::memcmp(&left, &right, sizeof left) != 0) {
            return false;
        }
    }
    return true;
}

// The state slots, x and y of one slot step in one arena of floats (the state first, 8-byte aligned), so that a fuzzed
// overlap or misaligned state stays inside memory we own.
struct SlotCall {
    std::vector<float> arena;
    std::vector<int32_t> slots;
    frnn_slot_step_args args{};
    bool broken = false;  // a fault that must be refused was applied
};

struct SlotPlan {
    int32_t batch, slot_count;
    int64_t state_floats, x_count, y_count, slots_count;
    int fault;  // 0 none, 1 state misaligned, 2 x inside the state, 3 y inside x
    bool float64;
};

SlotCall make_slot_call(const SlotPlan& plan, const std::vector<float>& state, const std::vector<float>& x,
                        const std::vector<int32_t>& slots) {
    SlotCall call;
    float sentinel;
    std::memcpy(&sentinel, &sentinel_bits, sizeof sentinel);
    call.arena.assign(static_cast<std::size_t>(plan.state_floats + plan.x_count + plan.y_count + 2), sentinel);
    std::copy(state.begin(), state.end(), call.arena.begin());
    float* x_at = call.arena.data() + plan.state_floats;
    std::copy(x.begin(), x.end(), x_at);
    call.slots = slots;
    frnn_slot_step_args& args = call.args;
    args.batch = plan.batch;
    args.slot_count = plan.slot_count;
    args.slots = call.slots.empty() ? nullptr : call.slots.data();
    args.slots_count = plan.slots_count;
    // A misaligned state starts half a value in (its last value then reaches into x: refused either way).
    args.state = reinterpret_cast<uint8_t*>(call.arena.data()) + (plan.fault == 1 ? (plan.float64 ? 4 : 2) : 0);
    args.state_bytes = plan.state_floats * 4;
    args.x = plan.fault == 2 ? call.arena.data() : x_at;
    args.x_count = plan.x_count;
    args.y = plan.y_count == 0 ? nullptr : plan.fault == 3 && plan.x_count > 1 ? x_at + 1 : x_at + plan.x_count;
    args.y_count = plan.y_count;
    call.broken = (plan.fault == 1 && plan.state_floats > 0) || (plan.fault == 2 && plan.state_floats > 0 && plan.x_count > 0) ||
                  (plan.fault == 3 && plan.y_count > 0 && plan.x_count > 1);
    return call;
}

frnn_status step_slots(const frnn_model* model, frnn_workspace* workspace, SlotCall& call) {
    return run_call(call.arena, "frnn_model_step_slots",
                    [&] { return frnn_model_step_slots(model, workspace, &call.args); });
}

// One slot step of the model above on both its workspaces: the same status, and the same slots and y on one thread as
// on the fuzzed count; refused for a bidirectional model, a repeated or out-of-range slot, a misaligned state or
// overlapping buffers.
void fuzz_slot_step(Reader& in, std::mt19937& generator, const frnn_model_spec& spec, const frnn_model* model,
                    frnn_workspace* workspace, const frnn_model* serial_model, frnn_workspace* serial_workspace) {
    int64_t slot_bytes = -1;
    const frnn_status sized = frnn_model_slot_bytes(model, &slot_bytes);
    check(sized != FRNN_STATUS_INTERNAL, "frnn_model_slot_bytes: internal error");
    if (sized != FRNN_STATUS_OK) {
        check(spec.num_directions == 2, "frnn_model_slot_bytes failed for a unidirectional model");
        return;
    }
    const bool float64 = spec.precision == FRNN_PRECISION_FLOAT64;
    const int64_t out = spec.proj_size > 0 ? spec.proj_size : spec.hidden_size;
    const int64_t values = int64_t{spec.num_layers} * (out + (spec.cell_kind == FRNN_CELL_LSTM ? spec.hidden_size : 0));
    check(slot_bytes == values * (float64 ? 8 : 4), "frnn_model_slot_bytes is not L*(Hout [+ H]) values");

    SlotPlan plan{};
    plan.float64 = float64;
    plan.slot_count = in.in_range(1, 12);
    plan.batch = in.in_range(1, 9);
    const bool sane = plan.slot_count >= 1 && plan.slot_count <= 1024 && plan.batch >= 1 && plan.batch <= 64;
    plan.state_floats = sane ? plan.slot_count * slot_bytes / 4 : 0;
    plan.x_count = sane ? int64_t{plan.batch} * spec.input_size : 0;
    plan.y_count = (in.byte() & 1) != 0 && sane ? int64_t{plan.batch} * out : 0;
    plan.slots_count = sane ? plan.batch : 0;
    std::vector<int32_t> slots;
    for (int32_t row = 0; sane && row < plan.batch; ++row) {
        slots.push_back(in.in_range(0, plan.slot_count - 1));
    }
    const uint8_t fault = in.byte();
    if (fault >= 0xF8) {
        int64_t* counts[] = {&plan.state_floats, &plan.x_count, &plan.y_count, &plan.slots_count};
        int64_t& count = *counts[fault % 4];
        count = count > 0 ? count - 1 : 1;
        if (&count == &plan.slots_count && count > static_cast<int64_t>(slots.size())) {
            slots.resize(static_cast<std::size_t>(count), 0);
        }
    } else if (fault >= 0xF0) {
        plan.fault = 1 + fault % 3;
    }
    std::vector<float> state(static_cast<std::size_t>(plan.state_floats));
    if (float64) {
        for (std::size_t index = 0; index + 1 < state.size(); index += 2) {
            const double value = std::uniform_real_distribution<double>(-1.0, 1.0)(generator);
            std::memcpy(&state[index], &value, sizeof value);
        }
    } else {
        state = random_values(generator, plan.state_floats, 1.0f);
    }
    const std::vector<float> x = random_values(generator, plan.x_count, 1.0f + static_cast<float>(in.byte() % 8));

    SlotCall call = make_slot_call(plan, state, x, slots);
    const frnn_status status = step_slots(model, workspace, call);
    check(!(call.broken && status == FRNN_STATUS_OK), "a misaligned state or overlapping buffers were accepted");
    std::vector<int32_t> sorted = slots;
    std::sort(sorted.begin(), sorted.end());
    check(!(std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end() && status == FRNN_STATUS_OK),
          "a repeated slot was accepted");
    SlotCall serial_call = make_slot_call(plan, state, x, slots);
    check(step_slots(serial_model, serial_workspace, serial_call) == status,
          "a slot step's status depends on num_threads");
    check(same_state(call.arena, serial_call.arena, plan.state_floats, float64) &&
              same_results(std::vector<float>(call.arena.begin() + plan.state_floats, call.arena.end()),
                           std::vector<float>(serial_call.arena.begin() + plan.state_floats, serial_call.arena.end())),
          "a slot step's results depend on num_threads");
}

// A dense layer (a sequence model's head) from a fuzzed spec and weights, run on both workspaces of the model above:
// the same status and bits on one thread as on the fuzzed count, and again on the reused workspace.
void fuzz_dense(Reader& in, std::mt19937& generator, frnn_workspace* workspace, frnn_workspace* serial_workspace) {
    ExtendedDenseSpec caller{};
    frnn_dense_spec& spec = caller.spec;
    const uint8_t size_choice = in.byte();
    spec.struct_size = size_choice < 0xF0 ? sizeof spec : size_choice < 0xF8 ? size_choice % sizeof spec : sizeof caller;
    if (size_choice >= 0xFC) {
        caller.extension[size_choice % 8] = size_choice;
    }
    spec.input_size = in.in_range(1, 40);
    spec.output_size = in.in_range(1, 300);
    spec.activation = in.in_range(FRNN_DENSE_IDENTITY, FRNN_DENSE_LOG_SOFTMAX);
    spec.num_threads = in.in_range(0, 4);
    spec.precision = in.in_range(FRNN_PRECISION_FLOAT32, FRNN_PRECISION_FLOAT64);
    const uint8_t has_bias_byte = in.bool_byte();
    std::memcpy(&spec.has_bias, &has_bias_byte, 1);
    const uint8_t reserved = in.byte();
    if (reserved >= 0xF0) {
        spec.reserved[reserved % 7] = reserved;
    }
    const float scale = 0.05f * static_cast<float>(1 + in.byte() % 80);
    Tensor weight, bias;
    weight.values = random_values(generator, claimable(spec.output_size, spec.input_size, 1), scale);
    if (has_bias_byte != 0) {
        bias.values = random_values(generator, claimable(spec.output_size, 1, 1), scale);
    }
    inject_specials(in, weight.values);
    int64_t weight_count = static_cast<int64_t>(weight.values.size());
    const uint8_t weight_fault = in.byte();
    if (weight_fault >= 0xF8 && weight_count > 0) {
        weight_count -= 1;
    } else if (weight_fault >= 0xF0) {
        weight.values.clear();
    }
    frnn_dense* dense = create_dense(spec, weight, weight_count, bias);
    if (dense == nullptr) {
        return;
    }
    ExtendedDenseSpec serial = caller;  // with the extension bytes that struct_size may cover
    serial.spec.num_threads = 1;
    frnn_dense* serial_dense = create_dense(serial.spec, weight, weight_count, bias);
    check(serial_dense != nullptr, "a dense layer failed on num_threads = 1 only");

    const int64_t rows = in.in_range(1, 9);
    int64_t x_count = claimable(rows, spec.input_size, 1);
    int64_t y_count = claimable(rows, spec.output_size, 1);
    const uint8_t call_fault = in.byte();
    if (call_fault >= 0xF8) {
        x_count = x_count > 0 ? x_count - 1 : 1;
    } else if (call_fault >= 0xF0) {
        y_count = y_count > 0 ? y_count - 1 : 1;
    }
    const bool overlap = call_fault >= 0xE0 && call_fault < 0xF0 && x_count > 1;
    std::vector<float> x = random_values(generator, x_count, 1.0f + static_cast<float>(in.byte() % 8));
    inject_specials(in, x);

    DenseCall call = make_dense_call(x, x_count, y_count, overlap);
    const frnn_status status = dense_forward(dense, workspace, rows, call, x_count, y_count);
    check(!(overlap && status == FRNN_STATUS_OK), "a dense layer's overlapping x and y were accepted");
    DenseCall serial_call = make_dense_call(x, x_count, y_count, overlap);
    check(dense_forward(serial_dense, serial_workspace, rows, serial_call, x_count, y_count) == status,
          "a dense layer's status depends on num_threads");
    check(same_results(call.arena, serial_call.arena), "a dense layer's results depend on num_threads");
    if (status == FRNN_STATUS_OK) {
        DenseCall again = make_dense_call(x, x_count, y_count, overlap);
        check(dense_forward(dense, workspace, rows, again, x_count, y_count) == FRNN_STATUS_OK,
              "a repeated dense call failed");
        check(same_results(call.arena, again.arena), "a repeated dense call on a reused workspace gave other results");
    }
    check(frnn_dense_destroy(serial_dense) == FRNN_STATUS_OK, "frnn_dense_destroy failed");
    check(frnn_dense_destroy(dense) == FRNN_STATUS_OK, "frnn_dense_destroy failed");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    Reader in(data, size);

    // The spec.
    ExtendedSpec caller{};
    frnn_model_spec& spec = caller.spec;
    // Mostly the right size; sometimes a short one (refused), or a newer header's longer one: accepted while its
    // extra bytes are zero, refused when one is set.
    const uint8_t size_choice = in.byte();
    spec.struct_size = size_choice < 0xF0 ? sizeof spec : size_choice < 0xF8 ? size_choice % sizeof spec : sizeof caller;
    if (size_choice >= 0xFC) {
        caller.extension[size_choice % 8] = size_choice;
    }
    spec.cell_kind = in.in_range(FRNN_CELL_LSTM, FRNN_CELL_RNN_RELU);
    spec.input_size = in.in_range(1, 9);
    spec.hidden_size = in.in_range(1, 20);
    spec.num_layers = in.in_range(1, 3);
    spec.num_directions = in.in_range(1, 2);
    const int32_t proj = in.in_range(0, 8);
    spec.proj_size = spec.cell_kind == FRNN_CELL_LSTM || proj < 0 || proj > 8 ? proj : 0;
    spec.num_threads = in.in_range(0, 4);
    spec.precision = in.in_range(FRNN_PRECISION_FLOAT32, FRNN_PRECISION_FLOAT64);
    const uint8_t has_bias_byte = in.bool_byte();
    std::memcpy(&spec.has_bias, &has_bias_byte, 1);
    const uint8_t reserved = in.byte();
    if (reserved >= 0xF0) {
        spec.reserved[reserved % 4] = reserved;
    }
    // The cell descriptor: mostly PyTorch's cell (all zero), else fuzzed flags, clip and activations. (Flags are
    // read back from their bytes: a fuzzed byte is not always a valid bool.)
    uint8_t cell_flags[3] = {0, 0, 0};
    if (in.byte() >= 0x80) {
        for (uint8_t& flag : cell_flags) {
            flag = in.bool_byte();
        }
        std::memcpy(&spec.has_peepholes, &cell_flags[0], 1);
        std::memcpy(&spec.coupled_input_forget, &cell_flags[1], 1);
        std::memcpy(&spec.reset_before_product, &cell_flags[2], 1);
        static constexpr float clips[8] = {0.0f, 0.5f, 3.0f, 1e30f, -1.0f, NAN, INFINITY, 0.0f};
        spec.clip = clips[in.byte() & 7];
        for (frnn_cell_activations* activations : {&spec.forward_activations, &spec.reverse_activations}) {
            activations->gates = fuzzed_activation(in);
            activations->candidate = fuzzed_activation(in);
            activations->output = fuzzed_activation(in);
        }
    }

    // Weights of the shapes the spec asks for (where it is sane), from a fuzzed seed and scale.
    const uint32_t seed = uint32_t{in.byte()} | uint32_t{in.byte()} << 8;
    std::mt19937 generator(seed);
    const float scale = 0.05f * static_cast<float>(1 + in.byte() % 80);
    const bool sane = spec.cell_kind >= 0 && spec.cell_kind <= 3 && spec.input_size >= 1 && spec.input_size <= 64 &&
                      spec.hidden_size >= 1 && spec.hidden_size <= 64 && spec.num_layers >= 1 &&
                      spec.num_layers <= 4 && spec.num_directions >= 1 && spec.num_directions <= 2 &&
                      spec.proj_size >= 0 && spec.proj_size <= 64;
    const int32_t entries = sane ? spec.num_layers * spec.num_directions : 1;
    const int64_t gates = gate_count(spec.cell_kind);
    const int64_t hidden = sane ? spec.hidden_size : 1;
    const int64_t out = sane && spec.proj_size > 0 ? spec.proj_size : hidden;
    const bool with_bias = has_bias_byte != 0;
    std::vector<LayerTensors> layers(static_cast<std::size_t>(entries));
    for (int32_t entry = 0; entry < entries; ++entry) {
        const int64_t layer_input = !sane                         ? 1
                                    : entry < spec.num_directions ? spec.input_size
                                                                  : spec.num_directions * out;
        LayerTensors& tensors = layers[static_cast<std::size_t>(entry)];
        tensors.weight_ih.values = random_values(generator, gates * hidden * layer_input, scale);
        tensors.weight_hh.values = random_values(generator, gates * hidden * out, scale);
        if (with_bias) {
            tensors.bias_ih.values = random_values(generator, gates * hidden, scale);
            tensors.bias_hh.values = random_values(generator, gates * hidden, scale);
        }
        if (sane && spec.proj_size > 0) {
            tensors.weight_hr.values = random_values(generator, out * hidden, scale);
        }
        if (cell_flags[0] != 0) {
            tensors.weight_p.values = random_values(generator, 3 * hidden, scale);
        }
    }
    inject_specials(in, layers[0].weight_hh.values);
    inject_specials(in, layers.back().weight_ih.values);
    std::vector<frnn_layer_weights> views;
    for (const LayerTensors& t : layers) {
        views.push_back({t.weight_ih.pointer(), static_cast<int64_t>(t.weight_ih.values.size()), t.weight_hh.pointer(),
                         static_cast<int64_t>(t.weight_hh.values.size()), t.bias_ih.pointer(),
                         static_cast<int64_t>(t.bias_ih.values.size()), t.bias_hh.pointer(),
                         static_cast<int64_t>(t.bias_hh.values.size()), t.weight_hr.pointer(),
                         static_cast<int64_t>(t.weight_hr.values.size()), t.weight_p.pointer(),
                         static_cast<int64_t>(t.weight_p.values.size())});
    }
    // Sometimes one count one too small (never larger than the tensor we own), or one pointer missing.
    const uint8_t weight_fault = in.byte();
    frnn_layer_weights& faulty = views[weight_fault % views.size()];
    if (weight_fault >= 0xF8 && faulty.weight_hh_count > 0) {
        faulty.weight_hh_count -= 1;
    } else if (weight_fault >= 0xF0) {
        faulty.weight_ih = nullptr;
    }
    int32_t weights_count = entries;
    if (in.byte() >= 0xF0 && weights_count > 1) {
        weights_count -= 1;
    }

    frnn_model* model = create_model(caller, views, weights_count);
    if (model == nullptr) {
        return 0;
    }
    // The same model on the caller alone: the reference for the thread split.
    ExtendedSpec serial = caller;
    serial.spec.num_threads = 1;
    frnn_model* serial_model = create_model(serial, views, weights_count);
    check(serial_model != nullptr, "a model failed on num_threads = 1 only");

    // The call.
    frnn_forward_args shape{};
    shape.seq_len = in.in_range(1, 12);
    shape.batch = in.in_range(1, 9);
    const uint8_t batch_first_byte = in.bool_byte();
    std::memcpy(&shape.batch_first, &batch_first_byte, 1);
    const uint8_t flags = in.byte();
    const bool has_state = (flags & 1) != 0;
    const bool is_lstm = spec.cell_kind == FRNN_CELL_LSTM;
    const bool cell_buffers = is_lstm ? (flags & 2) != 0 : flags == 0xFF;  // non-LSTM: must be rejected
    const int64_t slices = int64_t{spec.num_layers} * spec.num_directions;
    Plan plan{};
    plan.x_count = claimable(shape.seq_len, shape.batch, spec.input_size);
    plan.h0_count = has_state ? claimable(slices, shape.batch, out) : 0;
    plan.c0_count = has_state && cell_buffers ? claimable(slices, shape.batch, spec.hidden_size) : 0;
    plan.y_count = (flags & 4) != 0 ? claimable(shape.seq_len, shape.batch, spec.num_directions, out) : 0;
    plan.hn_count = (flags & 8) != 0 ? claimable(slices, shape.batch, out) : 0;
    plan.cn_count = (flags & 8) != 0 && cell_buffers ? claimable(slices, shape.batch, spec.hidden_size) : 0;
    plan.hn_is_h0 = (flags & 16) != 0 && plan.h0_count > 0 && plan.hn_count == plan.h0_count;
    plan.cn_is_c0 = plan.hn_is_h0 && plan.c0_count > 0 && plan.cn_count == plan.c0_count;
    const uint8_t call_fault = in.byte();
    if (call_fault >= 0xF0) {
        int64_t* counts[] = {&plan.x_count, &plan.h0_count, &plan.c0_count,
                             &plan.y_count, &plan.hn_count, &plan.cn_count};
        int64_t& count = *counts[call_fault % 6];
        count = count > 0 ? count - 1 : 1;
        plan.hn_is_h0 = plan.cn_is_c0 = false;
    } else if (call_fault >= 0xE0) {
        plan.overlap = 1 + call_fault % 3;
    }
    std::vector<float> x = random_values(generator, plan.x_count, 1.0f + static_cast<float>(in.byte() % 8));
    const std::vector<float> h0 = random_values(generator, plan.h0_count, 1.0f);
    const std::vector<float> c0 = random_values(generator, plan.c0_count, 1.0f);
    std::vector<int32_t> lengths;
    if ((flags & 32) != 0 && shape.batch >= 1 && shape.batch <= max_elements) {
        const int32_t steps = shape.seq_len >= 1 ? shape.seq_len : 1;
        for (int32_t row = 0; row < shape.batch; ++row) {
            lengths.push_back(in.in_range(1, steps <= 0xEF ? steps : 0xEF));
        }
    }
    inject_specials(in, x);
    // The serial model's workspace gets a small chunk budget: from one row per chunk to more than any call here.
    const std::string budget = std::to_string(int64_t{1} << (in.byte() % 24));

    frnn_workspace* workspace = create_workspace(model);
    set_chunk_budget(budget.c_str());
    frnn_workspace* serial_workspace = create_workspace(serial_model);
    set_chunk_budget(nullptr);

    CallBuffers call = make_call(plan, x, h0, c0, lengths, shape);
    const bool must_reject = outputs_overlap(call.args);
    const frnn_status status = forward(model, workspace, call);
    check(!(must_reject && status == FRNN_STATUS_OK), "overlapping outputs were accepted");

    CallBuffers serial_call = make_call(plan, x, h0, c0, lengths, shape);
    const frnn_status serial_status = forward(serial_model, serial_workspace, serial_call);
    check(serial_status == status, "the status depends on num_threads or the chunk budget");
    check(same_results(call.arena, serial_call.arena), "results depend on num_threads or the chunk budget");

    if (status == FRNN_STATUS_OK) {
        // Again on the reused workspace (from the same inputs: in place, the state was overwritten).
        CallBuffers again = make_call(plan, x, h0, c0, lengths, shape);
        check(forward(model, workspace, again) == FRNN_STATUS_OK, "a repeated call failed");
        check(same_results(call.arena, again.arena), "a repeated call on a reused workspace gave other results");
    }

    fuzz_slot_step(in, generator, spec, model, workspace, serial_model, serial_workspace);
    fuzz_dense(in, generator, workspace, serial_workspace);

    check(frnn_workspace_destroy(serial_workspace) == FRNN_STATUS_OK, "frnn_workspace_destroy failed");
    check(frnn_workspace_destroy(workspace) == FRNN_STATUS_OK, "frnn_workspace_destroy failed");
    check(frnn_model_destroy(serial_model) == FRNN_STATUS_OK, "frnn_model_destroy failed");
    check(frnn_model_destroy(model) == FRNN_STATUS_OK, "frnn_model_destroy failed");
    return 0;
}
