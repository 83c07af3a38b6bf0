#include "common/model.h"

#include "common/cpu_topology.h"
#include "common/shape_checks.h"

#include <atomic>

namespace fusedrnn {
namespace {

std::atomic<uint64_t> next_model_serial{1};

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

}  // namespace

std::unique_ptr<frnn_model> create_model(const frnn_model_spec& spec, const frnn_layer_weights* weights,
                                         int32_t weights_count, int64_t panel_width) {
    ModelShape shape = validate_spec(&spec);
    validate_weights(shape, weights, weights_count);

    auto model = std::make_unique<frnn_model>();
    model->spec = spec;
    model->shape = shape;
    model->serial = next_model_serial.fetch_add(1, std::memory_order_relaxed);
    model->panel_width = panel_width;
    model->thread_count = resolve_thread_count(spec.num_threads);
    if (shape.precision == FRNN_PRECISION_FLOAT32) {
        model->f32_layers = pack_layers<float>(shape, weights, weights_count, panel_width);
    } else {
        model->f64_layers = pack_layers<double>(shape, weights, weights_count, panel_width);
    }
    return model;
}

HandleRegistry<frnn_model>& model_registry() {
    static HandleRegistry<frnn_model> registry("frnn_model");
    return registry;
}

}  // namespace fusedrnn
