#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <new>

namespace fusedrnn {

// Cache-line (and AVX-512 register) aligned float storage for packed weights and workspaces.
class AlignedFloats {
public:
    static constexpr std::size_t alignment = 64;

    AlignedFloats() = default;

    // count zero-initialized floats; throws std::bad_alloc.
    explicit AlignedFloats(std::size_t count)
        : data_(static_cast<float*>(::operator new(count * sizeof(float), std::align_val_t{alignment}))), size_(count) {
        std::memset(data_.get(), 0, count * sizeof(float));
    }

    float* data() noexcept { return data_.get(); }
    const float* data() const noexcept { return data_.get(); }
    std::size_t size() const noexcept { return size_; }

private:
    struct AlignedDelete {
        void operator()(float* pointer) const noexcept { ::operator delete(pointer, std::align_val_t{alignment}); }
    };

    std::unique_ptr<float, AlignedDelete> data_;
    std::size_t size_ = 0;
};

}  // namespace fusedrnn
