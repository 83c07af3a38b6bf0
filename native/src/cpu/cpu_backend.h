// The CPU backend's parts of models, workspaces and dense layers (see common/backend.h), and the functions that
// find them behind a handle's object.
#pragma once

#include "common/aligned_buffer.h"
#include "common/backend.h"
#include "common/dense.h"
#include "common/error.h"
#include "common/model.h"
#include "common/workspace.h"
#include "cpu/weight_packing.h"
#include "cpu/worker_team.h"

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

namespace fusedrnn::cpu {

// A model's layers packed for the active kernel set.
struct CpuModel final : BackendModel {
    int64_t panel_width = 0;   // W of the kernel set the layers are packed for
    int64_t thread_count = 0;  // spec.num_threads capped at the logical processors, 0 resolved to the physical cores
    // Index layer * num_directions + direction; only the vector of the spec's precision is filled.
    std::vector<PackedLayer<float>> f32_layers;
    std::vector<PackedLayer<double>> f64_layers;

    template <class T>
    const std::vector<PackedLayer<T>>& layers() const {
        if constexpr (std::is_same_v<T, float>) {
            return f32_layers;
        } else {
            return f64_layers;
        }
    }
};

// One growable aligned arena the calls carve, and the team through which a multi-threaded call hires workers of the
// process's pool (its barrier and congestion advice). The arena holds values of the model's arithmetic type (float
// or double): the state, gate pre-activations and layer outputs (see "Precision" in native/README.md).
struct CpuWorkspace final : BackendWorkspace {
    int64_t chunk_budget_bytes = 0;  // bound on a call's chunk buffers (forward.cpp), from chunk_budget_bytes()
    AlignedArray<std::byte> arena;
    WorkerTeam team;

    // At least `count` values of T; reallocates only when the arena is smaller, so steady-state calls don't allocate.
    template <class T>
    T* reserve(std::size_t count) {
        if (count > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
            fail(FRNN_STATUS_OUT_OF_MEMORY, "out of memory: the workspace of this call needs " + std::to_string(count) +
                                                " values of " + std::to_string(sizeof(T)) +
                                                " bytes, more than an address space");
        }
        if (arena.size() < count * sizeof(T)) {
            arena = AlignedArray<std::byte>();  // free first: old and new never coexist
            arena = AlignedArray<std::byte>(count * sizeof(T));
        }
        return reinterpret_cast<T*>(arena.data());
    }
};

// A dense layer's weight in the input projection's layout (the G = 1 case of weight_packing.h: blocks of W outputs,
// k-major), so the same GEMM kernels run it.
struct CpuDense final : BackendDense {
    int64_t panel_width = 0;     // W of the kernel set the weight is packed for
    int64_t padded_outputs = 0;  // output_size rounded up to a multiple of W
    int64_t thread_count = 0;    // as CpuModel's
    AlignedFloats weight;        // [padded_outputs / W][input_size][W], zero in the padding
    // b in the arithmetic type, zero without a bias and in the padding; only the spec's precision is filled.
    AlignedArray<float> f32_bias;
    AlignedArray<double> f64_bias;

    template <class T>
    const T* bias() const {
        if constexpr (std::is_same_v<T, float>) {
            return f32_bias.data();
        } else {
            return f64_bias.data();
        }
    }
};

// The CPU parts behind handles of this library, whose backend is the CPU's: every model, workspace and dense layer
// it creates has them.
inline const CpuModel& cpu_part(const frnn_model& model) { return static_cast<const CpuModel&>(*model.backend); }
inline CpuWorkspace& cpu_part(frnn_workspace& workspace) { return static_cast<CpuWorkspace&>(*workspace.backend); }
inline const CpuDense& cpu_part(const frnn_dense& dense) { return static_cast<const CpuDense&>(*dense.backend); }

// What the chunk buffers of one forward call (a chunk of steps' widened x and input projection) may take, about:
// 64 MiB, or the bytes FUSEDRNN_CHUNK_BYTES names (a positive decimal integer) when the workspace is created; the
// tests set it small to make small calls run in many chunks. Another value prints one warning line on stderr (once
// per process) and keeps the default.
int64_t chunk_budget_bytes();

}  // namespace fusedrnn::cpu
