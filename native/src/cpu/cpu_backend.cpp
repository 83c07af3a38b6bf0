// The CPU backend: models packed for the active kernel set (cpu/dispatch.h), calls run by forward.cpp and
// dense_forward.cpp on the workspace's arena and threads.
#include "cpu/cpu_backend.h"

#include "common/checked_math.h"
#include "cpu/cpu_topology.h"
#include "cpu/dense_forward.h"
#include "cpu/dispatch.h"
#include "cpu/forward.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace fusedrnn {
namespace cpu {

int64_t chunk_budget_bytes() {
    // Enough that the shared benchmark workloads (the largest needs 66 MB) run in one chunk, as they did before
    // chunking existed; small next to the memory of any machine that would run a call that needs more.
    constexpr int64_t default_budget = int64_t{64} << 20;
    const char* text = std::getenv("FUSEDRNN_CHUNK_BYTES");
    if (text == nullptr || text[0] == '\0') {
        return default_budget;
    }
    char* end = nullptr;
    errno = 0;
    const long long value = std::strtoll(text, &end, 10);
    if (errno == 0 && *end == '\0' && value > 0) {
        return value;
    }
    static std::once_flag warned;
    std::call_once(warned, [&] {
        std::fprintf(stderr,
                     "fusedrnn: warning: FUSEDRNN_CHUNK_BYTES=%s is not a positive number of bytes; using %lld\n", text,
                     static_cast<long long>(default_budget));
    });
    return default_budget;
}

namespace {

template <class T>
std::vector<PackedLayer<T>> pack_layers(const ModelShape& shape, const frnn_layer_weights* weights,
                                        int32_t weights_count, int64_t panel_width) {
    std::vector<PackedLayer<T>> layers;
    layers.reserve(static_cast<std::size_t>(weights_count));
    for (int64_t index = 0; index < weights_count; ++index) {
        layers.push_back(pack_layer<T>(shape, index / shape.num_directions, weights[index], panel_width));
    }
    return layers;
}

class CpuBackend final : public Backend {
public:
    const char* kernel_set_name() const override { return active_isa_name(); }

    std::unique_ptr<BackendModel> create_model(const frnn_model_spec& spec, const ModelShape& shape,
                                               const frnn_layer_weights* weights,
                                               int32_t weights_count) const override {
        auto model = std::make_unique<CpuModel>();
        model->panel_width = panel_width_for(shape.precision);
        model->thread_count = resolve_thread_count(spec.num_threads);
        if (shape.precision == FRNN_PRECISION_FLOAT32) {
            model->f32_layers = pack_layers<float>(shape, weights, weights_count, model->panel_width);
        } else {
            model->f64_layers = pack_layers<double>(shape, weights, weights_count, model->panel_width);
        }
        return model;
    }

    std::unique_ptr<BackendWorkspace> create_workspace() const override {
        auto workspace = std::make_unique<CpuWorkspace>();
        workspace->chunk_budget_bytes = chunk_budget_bytes();
        return workspace;
    }

    void forward(const frnn_model& model, frnn_workspace& workspace, const ForwardShape& call,
                 const frnn_forward_args& args) const override {
        cpu::forward(model, workspace, call, args);
    }

    void step_slots(const frnn_model& model, frnn_workspace& workspace,
                    const frnn_slot_step_args& args) const override {
        cpu::step_slots(model, workspace, args);
    }

    std::unique_ptr<BackendDense> create_dense(const frnn_dense_spec& spec, const DenseShape& shape,
                                               const float* weight, const float* bias) const override {
        auto dense = std::make_unique<CpuDense>();
        const int64_t width = panel_width_for(shape.precision);
        dense->panel_width = width;
        dense->padded_outputs = checked_product(
            {checked_sum({shape.output_size, width - 1}, "output_size") / width, width}, "output_size");
        checked_product({dense->padded_outputs, shape.input_size}, "output_size*input_size");
        dense->thread_count = resolve_thread_count(spec.num_threads);
        dense->weight = pack_gate_rows(weight, 1, shape.output_size, dense->padded_outputs, shape.input_size, width);
        const auto padded = static_cast<std::size_t>(dense->padded_outputs);
        if (shape.precision == FRNN_PRECISION_FLOAT32) {
            dense->f32_bias = AlignedArray<float>(padded);
            if (bias != nullptr) {
                std::copy(bias, bias + shape.output_size, dense->f32_bias.data());
            }
        } else {
            dense->f64_bias = AlignedArray<double>(padded);
            if (bias != nullptr) {
                std::copy(bias, bias + shape.output_size, dense->f64_bias.data());
            }
        }
        return dense;
    }

    void dense_forward(const frnn_dense& dense, frnn_workspace& workspace, int64_t rows, const float* x,
                       float* y) const override {
        cpu::dense_forward(dense, workspace, rows, x, y);
    }
};

}  // namespace
}  // namespace cpu

const Backend& library_backend() {
    static const cpu::CpuBackend backend;
    return backend;
}

}  // namespace fusedrnn
