// The workloads of DESIGN.md ("Workload names") through frnn_model_forward, at num_threads 1 and 2, on the kernel
// set this process runs (FUSEDRNN_ISA=avx512|avx2|reference picks one; it is reported as the "isa" context).
// Weights are uniform in +-1/sqrt(H) (PyTorch's default init); `step` workloads carry h and c in place from one
// call to the next, `seq` workloads start from zero state. Times are wall-clock per call.
// The `ceiling/` entries (AVX-512 machines only) time the bare inner loop of a batch-1 step (gemv_ceiling.h).
#include "gemv_ceiling.h"

#include <fusedrnn.h>

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace {

struct Workload {
    const char* name;
    frnn_cell_kind kind;
    int32_t num_layers, num_directions, input_size, hidden_size, batch, seq_len;
    bool carries_state;  // a `step` workload
};

const Workload workloads[] = {
    {"lstm-step-b1-h64", FRNN_CELL_LSTM, 1, 1, 64, 64, 1, 1, true},
    {"lstm-step-b1-h256", FRNN_CELL_LSTM, 1, 1, 256, 256, 1, 1, true},
    {"gru-step-b1-h256", FRNN_CELL_GRU, 1, 1, 256, 256, 1, 1, true},
    {"lstm-seq-b1-t100-h128", FRNN_CELL_LSTM, 1, 1, 128, 128, 1, 100, false},
    {"lstm-seq-b1-t100-h512", FRNN_CELL_LSTM, 1, 1, 512, 512, 1, 100, false},
    {"gru-seq-b1-t100-h512", FRNN_CELL_GRU, 1, 1, 512, 512, 1, 100, false},
    {"lstm-seq-b32-t100-h512", FRNN_CELL_LSTM, 1, 1, 512, 512, 32, 100, false},
    {"bilstm2-seq-b16-t50-h256", FRNN_CELL_LSTM, 2, 2, 128, 256, 16, 50, false},
    {"lstm-seq-b1-t100-h1024", FRNN_CELL_LSTM, 1, 1, 1024, 1024, 1, 100, false},
};

std::vector<float> uniform(std::mt19937& generator, std::size_t count, float bound) {
    std::vector<float> values(count);
    std::generate(values.begin(), values.end(),
                  [&, distribution = std::uniform_real_distribution<float>(-bound, bound)]() mutable {
                      return distribution(generator);
                  });
    return values;
}

void check(frnn_status status, benchmark::State& state) {
    if (status != FRNN_STATUS_OK) {
        state.SkipWithError(frnn_last_error());
    }
}

void run_workload(benchmark::State& state, const Workload& w, int32_t threads, frnn_precision precision) {
    const int64_t gates = w.kind == FRNN_CELL_LSTM ? 4 : w.kind == FRNN_CELL_GRU ? 3 : 1;
    const auto size = [](int64_t count) { return static_cast<std::size_t>(count); };
    frnn_model_spec spec{};
    spec.struct_size = sizeof spec;
    spec.precision = precision;
    spec.cell_kind = w.kind;
    spec.input_size = w.input_size;
    spec.hidden_size = w.hidden_size;
    spec.num_layers = w.num_layers;
    spec.num_directions = w.num_directions;
    spec.num_threads = threads;
    spec.has_bias = true;

    std::mt19937 generator(42);
    const float bound = 1.0f / std::sqrt(static_cast<float>(w.hidden_size));
    std::vector<std::vector<float>> tensors;
    std::vector<frnn_layer_weights> weights;
    for (int32_t layer = 0; layer < w.num_layers; ++layer) {
        for (int32_t direction = 0; direction < w.num_directions; ++direction) {
            const int64_t input = layer == 0 ? w.input_size : int64_t{w.num_directions} * w.hidden_size;
            tensors.push_back(uniform(generator, size(gates * w.hidden_size * input), bound));
            tensors.push_back(uniform(generator, size(gates * w.hidden_size * w.hidden_size), bound));
            tensors.push_back(uniform(generator, size(gates * w.hidden_size), bound));
            tensors.push_back(uniform(generator, size(gates * w.hidden_size), bound));
        }
    }
    for (std::size_t index = 0; index + 3 < tensors.size(); index += 4) {
        const auto count = [&](std::size_t offset) { return static_cast<int64_t>(tensors[index + offset].size()); };
        weights.push_back({tensors[index].data(), count(0), tensors[index + 1].data(), count(1),
                           tensors[index + 2].data(), count(2), tensors[index + 3].data(), count(3), nullptr, 0, nullptr, 0});
    }
    frnn_model* model = nullptr;
    frnn_workspace* workspace = nullptr;
    check(frnn_model_create(&spec, weights.data(), static_cast<int32_t>(weights.size()), &model), state);
    check(frnn_workspace_create(model, &workspace), state);

    const int64_t states = int64_t{w.num_layers} * w.num_directions * w.batch;
    std::vector<float> x = uniform(generator, size(int64_t{w.seq_len} * w.batch * w.input_size), 1.0f);
    std::vector<float> y(size(int64_t{w.seq_len} * w.batch * w.num_directions * w.hidden_size));
    std::vector<float> h(size(states * w.hidden_size)), c(h.size());
    frnn_forward_args args{};
    args.seq_len = w.seq_len;
    args.batch = w.batch;
    args.x = x.data();
    args.x_count = static_cast<int64_t>(x.size());
    args.y = y.data();
    args.y_count = static_cast<int64_t>(y.size());
    args.hn = h.data();
    args.hn_count = static_cast<int64_t>(h.size());
    if (w.carries_state) {
        args.h0 = h.data();
        args.h0_count = args.hn_count;
    }
    if (w.kind == FRNN_CELL_LSTM) {
        args.cn = c.data();
        args.cn_count = static_cast<int64_t>(c.size());
        if (w.carries_state) {
            args.c0 = c.data();
            args.c0_count = args.cn_count;
        }
    }
    if (model != nullptr && workspace != nullptr) {
        check(frnn_model_forward(model, workspace, &args), state);  // warm-up: sizes the workspace, starts workers
        for (auto _ : state) {
            frnn_model_forward(model, workspace, &args);
            benchmark::ClobberMemory();
        }
    }
    frnn_workspace_destroy(workspace);
    frnn_model_destroy(model);
}

// One LSTM step's recurrent product alone; counters: multiply-adds per second and weight bytes per second.
template <class Weight, class Value, void (*Gemv)(const Weight*, const Value*, int64_t, Value*)>
void run_gemv_ceiling(benchmark::State& state) {
    const int64_t hidden = state.range(0);
    std::mt19937 generator(42);
    const std::vector<float> floats = uniform(generator, static_cast<std::size_t>(4 * hidden * hidden), 0.1f);
    const std::vector<Weight> weights(floats.begin(), floats.end());
    const std::vector<Value> h(static_cast<std::size_t>(hidden), Value(0.5));
    std::vector<Value> out(static_cast<std::size_t>(4 * hidden));
    for (auto _ : state) {
        Gemv(weights.data(), h.data(), hidden, out.data());
        benchmark::DoNotOptimize(out.data());
        benchmark::ClobberMemory();
    }
    const auto per_second = [&](double per_call) {
        return benchmark::Counter(per_call * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    };
    state.counters["MAC/s"] = per_second(static_cast<double>(weights.size()));
    state.counters["bytes/s"] = per_second(static_cast<double>(weights.size() * sizeof(Weight)));
}

bool cpu_has_avx512() {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_cpu_supports("avx512f");
#else
    return false;  // the probe is a development aid; MSVC builds skip it
#endif
}

}  // namespace

int main(int argc, char** argv) {
    const char* isa = "?";
    frnn_isa_name(&isa);
    benchmark::AddCustomContext("isa", isa);
    for (const Workload& workload : workloads) {
        for (const frnn_precision precision : {FRNN_PRECISION_FLOAT32, FRNN_PRECISION_FLOAT64}) {
            for (int32_t threads : {1, 2}) {
                const std::string name = std::string(workload.name) +
                                         (precision == FRNN_PRECISION_FLOAT32 ? "/float32" : "/float64") +
                                         "/threads:" + std::to_string(threads);
                benchmark::RegisterBenchmark(name.c_str(), [&workload, threads, precision](benchmark::State& state) {
                    run_workload(state, workload, threads, precision);
                })->UseRealTime()->Unit(benchmark::kMicrosecond);
            }
        }
    }
    if (cpu_has_avx512()) {
        using fusedrnn::bench::gemv_double_avx512;
        using fusedrnn::bench::gemv_float_avx512;
        using fusedrnn::bench::gemv_widened_avx512;
        benchmark::RegisterBenchmark("ceiling/gemv-b1-float32", run_gemv_ceiling<float, float, gemv_float_avx512>)
            ->RangeMultiplier(2)->Range(128, 1024)->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark("ceiling/gemv-b1-float32-widened",
                                     run_gemv_ceiling<float, double, gemv_widened_avx512>)
            ->RangeMultiplier(2)->Range(64, 1024)->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark("ceiling/gemv-b1-double-stored",
                                     run_gemv_ceiling<double, double, gemv_double_avx512>)
            ->RangeMultiplier(2)->Range(64, 1024)->Unit(benchmark::kMicrosecond);
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
