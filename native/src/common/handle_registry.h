// Live handles of one type. Every handle the caller passes in is looked up here first, so a destroyed or
// foreign pointer is reported as FRNN_STATUS_INVALID_HANDLE instead of being dereferenced.
#pragma once

#include "common/error.h"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace fusedrnn {

template <class Object>
class HandleRegistry {
public:
    explicit HandleRegistry(const char* type_name) : type_name_(type_name) {}

    // Takes ownership and returns the handle given to the caller.
    Object* adopt(std::unique_ptr<Object> object) {
        Object* handle = object.get();
        std::lock_guard<std::mutex> lock(mutex_);
        live_.emplace(handle, std::move(object));
        return handle;
    }

    // The handle as a live object; throws NULL_POINTER or INVALID_HANDLE naming `argument_name`.
    Object& require_live(const Object* handle, const char* argument_name) const {
        require_not_null(handle, argument_name);
        std::lock_guard<std::mutex> lock(mutex_);
        auto found = live_.find(handle);
        if (found == live_.end()) {
            fail(FRNN_STATUS_INVALID_HANDLE, std::string(argument_name) + " is not a live " + type_name_ +
                                                 " (already destroyed, or not created by this library)");
        }
        return *found->second;
    }

    // Destroys a live object; throws INVALID_HANDLE for anything else.
    void destroy(const Object* handle, const char* argument_name) {
        std::unique_ptr<Object> doomed;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            auto found = live_.find(handle);
            if (found == live_.end()) {
                fail(FRNN_STATUS_INVALID_HANDLE, std::string(argument_name) + " is not a live " + type_name_ +
                                                     " (already destroyed, or not created by this library)");
            }
            doomed = std::move(found->second);
            live_.erase(found);
        }
        // doomed is freed here, outside the lock.
    }

private:
    const char* type_name_;
    mutable std::mutex mutex_;
    std::unordered_map<const Object*, std::unique_ptr<Object>> live_;
};

}  // namespace fusedrnn
