// Test-only reader of the .safetensors reference files: an 8-byte little-endian header length, a JSON header
// ({"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {string: string}}), then raw little-endian data.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace fusedrnn::test {

// A parsed JSON value, enough for safetensors headers and the reference files' config.
struct JsonValue {
    enum class Kind { Null, Bool, Number, String, Array, Object };
    Kind kind = Kind::Null;
    bool boolean = false;
    double number = 0.0;
    std::string string;
    std::vector<JsonValue> array;
    std::map<std::string, JsonValue> object;

    const JsonValue& at(const std::string& key) const;  // throws std::runtime_error when missing
    bool has(const std::string& key) const { return object.count(key) != 0; }
    int64_t as_int() const;
    bool as_bool() const;
};

JsonValue parse_json(const std::string& text);

struct Tensor {
    std::string dtype;  // "F32" or "I64"
    std::vector<int64_t> shape;
    std::vector<float> floats;      // F32 data
    std::vector<int64_t> integers;  // I64 data

    int64_t element_count() const;
};

class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::string& path);  // throws std::runtime_error

    bool has(const std::string& name) const { return tensors_.count(name) != 0; }
    const Tensor& tensor(const std::string& name) const;
    const JsonValue& config() const { return config_; }  // parsed __metadata__.config

private:
    std::map<std::string, Tensor> tensors_;
    JsonValue config_;
};

}  // namespace fusedrnn::test
