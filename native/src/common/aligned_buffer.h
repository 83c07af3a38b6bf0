#pragma once

#include <cstddef>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
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

    // count zero-initialized elements; throws std::bad_alloc (also when count * sizeof(T) overflows).
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
            throw std::bad_alloc();
        }
        return static_cast<T*>(::operator new(count * sizeof(T), std::align_val_t{alignment}));
    }

    std::unique_ptr<T, AlignedDelete> data_;
    std::size_t size_ = 0;
};

using AlignedFloats = AlignedArray<float>;
using AlignedDoubles = AlignedArray<double>;

}  // namespace fusedrnn
