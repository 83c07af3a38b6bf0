#pragma once

#include "common/error.h"

#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <string>
#include <type_traits>

namespace fusedrnn {

// Cache-line (and AVX-512 register) aligned storage: float for packed weights, double for biases and the
// workspace (see "Precision" in native/README.md).
template <class T>
class AlignedArray {
    static_assert(std::is_trivially_copyable_v<T>, "AlignedArray zero-fills with memset");

public:
    static constexpr std::size_t alignment = 64;

    AlignedArray() = default;

    // count zero-initialized elements; fails with FRNN_STATUS_OUT_OF_MEMORY, naming the bytes, when they cannot
    // be had (also when count * sizeof(T) overflows).
    explicit AlignedArray(std::size_t count) : data_(allocate(count)), size_(count) {
        std::memset(data_.get(), 0, count * sizeof(T));
    }

    T* data() noexcept { return data_.get(); }
    const T* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }

private:
    struct AlignedDelete {
        void operator()(T* pointer) const noexcept { ::operator delete(pointer, std::align_val_t{alignment}); }
    };

    static T* allocate(std::size_t count) {
        if (count > std::numeric_limits<std::size_t>::max() / sizeof(T)) {
            fail(FRNN_STATUS_OUT_OF_MEMORY, "out of memory: " + std::to_string(count) + " elements of " +
                                                std::to_string(sizeof(T)) + " bytes are more than an address space");
        }
        // nothrow: a failure becomes a status with the size (the message of std::bad_alloc has none).
        void* memory = ::operator new(count * sizeof(T), std::align_val_t{alignment}, std::nothrow);
        if (memory == nullptr) {
            fail(FRNN_STATUS_OUT_OF_MEMORY,
                 "out of memory: could not allocate " + std::to_string(count * sizeof(T)) + " bytes");
        }
        return static_cast<T*>(memory);
    }

    std::unique_ptr<T, AlignedDelete> data_;
    std::size_t size_ = 0;
};

using AlignedFloats = AlignedArray<float>;
using AlignedDoubles = AlignedArray<double>;

}  // namespace fusedrnn
