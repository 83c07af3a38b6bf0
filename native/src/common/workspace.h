#pragma once

#include "common/aligned_buffer.h"
#include "common/handle_registry.h"
#include "common/worker_team.h"

#include <cstddef>
#include <limits>
#include <string>
#include <cstdint>
#include <vector>

// The object behind an frnn_workspace handle: one growable aligned arena the backend carves per call, and the team
// through which a multi-threaded call hires workers of the process's pool (its barrier and congestion advice). The
// arena holds values of the model's arithmetic type (float or double): the state, gate pre-activations and layer
// outputs (see "Precision" in native/README.md). The team belongs here, not to the model, because a model is shared
// by callers that each bring their own workspace.
struct frnn_workspace {
    uint64_t model_serial;  // the model it was created for
    int64_t chunk_budget_bytes;  // bound on a call's chunk buffers (cpu/forward.cpp), from chunk_budget_bytes()
    fusedrnn::AlignedArray<std::byte> arena;
    fusedrnn::WorkerTeam team;
    std::vector<int32_t> sorted_slots;  // scratch of validate_slot_step

    // At least `count` values of T; reallocates only when the arena is smaller, so steady-state calls don't allocate.
    template <class T>
    T* reserve(std::size_t count) {
        if (count > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
            fusedrnn::fail(FRNN_STATUS_OUT_OF_MEMORY, "out of memory: the workspace of this call needs " +
                                                          std::to_string(count) + " values of " +
                                                          std::to_string(sizeof(T)) + " bytes, more than an address space");
        }
        if (arena.size() < count * sizeof(T)) {
            arena = fusedrnn::AlignedArray<std::byte>();  // free first: old and new never coexist
            arena = fusedrnn::AlignedArray<std::byte>(count * sizeof(T));
        }
        return reinterpret_cast<T*>(arena.data());
    }
};

namespace fusedrnn {

HandleRegistry<frnn_workspace>& workspace_registry();

// What the chunk buffers of one forward call (a chunk of steps' widened x and input projection) may take, about:
// 64 MiB, or the bytes FUSEDRNN_CHUNK_BYTES names (a positive decimal integer) when the workspace is created; the
// tests set it small to make small calls run in many chunks. Another value prints one warning line on stderr (once
// per process) and keeps the default.
int64_t chunk_budget_bytes();

}  // namespace fusedrnn
