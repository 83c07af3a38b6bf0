#include "safetensors_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace fusedrnn::test {
namespace {

class JsonParser {
public:
    explicit JsonParser(const std::string& text) : text_(text) {}

    JsonValue parse_document() {
        JsonValue value = parse_value();
        skip_whitespace();
        if (position_ != text_.size()) {
            error("trailing characters");
        }
        return value;
    }

private:
    [[noreturn]] void error(const std::string& what) const {
        throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(position_));
    }

    void skip_whitespace() {
        while (position_ < text_.size() && std::strchr(" \t\r\n", text_[position_]) != nullptr) {
            ++position_;
        }
    }

    char peek() {
        skip_whitespace();
        if (position_ >= text_.size()) {
            error("unexpected end");
        }
        return text_[position_];
    }

    void expect(char wanted) {
        if (peek() != wanted) {
            error(std::string("expected '") + wanted + "'");
        }
        ++position_;
    }

    bool consume_literal(const char* literal) {
        std::size_t length = std::strlen(literal);
        if (text_.compare(position_, length, literal) == 0) {
            position_ += length;
            return true;
        }
        return false;
    }

    JsonValue parse_value() {
        JsonValue value;
        char first = peek();
        if (first == '{') {
            value.kind = JsonValue::Kind::Object;
            ++position_;
            if (peek() == '}') {
                ++position_;
                return value;
            }
            do {
                std::string key = parse_string();
                expect(':');
                value.object[key] = parse_value();
            } while (consume_separator('}'));
        } else if (first == '[') {
            value.kind = JsonValue::Kind::Array;
            ++position_;
            if (peek() == ']') {
                ++position_;
                return value;
            }
            do {
                value.array.push_back(parse_value());
            } while (consume_separator(']'));
        } else if (first == '"') {
            value.kind = JsonValue::Kind::String;
            value.string = parse_string();
        } else if (consume_literal("true")) {
            value.kind = JsonValue::Kind::Bool;
            value.boolean = true;
        } else if (consume_literal("false")) {
            value.kind = JsonValue::Kind::Bool;
        } else if (consume_literal("null")) {
            value.kind = JsonValue::Kind::Null;
        } else {
            value.kind = JsonValue::Kind::Number;
            std::size_t consumed = 0;
            value.number = std::stod(text_.substr(position_), &consumed);
            position_ += consumed;
        }
        return value;
    }

    // After an element: true on ',', false on the closing character.
    bool consume_separator(char closing) {
        char next = peek();
        ++position_;
        if (next == ',') {
            return true;
        }
        if (next != closing) {
            error(std::string("expected ',' or '") + closing + "'");
        }
        return false;
    }

    std::string parse_string() {
        expect('"');
        std::string result;
        while (position_ < text_.size() && text_[position_] != '"') {
            char current = text_[position_++];
            if (current != '\\') {
                result += current;
                continue;
            }
            if (position_ >= text_.size()) {
                break;
            }
            char escaped = text_[position_++];
            switch (escaped) {
            case 'n': result += '\n'; break;
            case 't': result += '\t'; break;
            case 'r': result += '\r'; break;
            case 'b': result += '\b'; break;
            case 'f': result += '\f'; break;
            case 'u': {
                // The headers are ASCII; keep code points below 0x80 and mark others.
                unsigned long code = std::stoul(text_.substr(position_, 4), nullptr, 16);
                position_ += 4;
                result += code < 0x80 ? static_cast<char>(code) : '?';
                break;
            }
            default: result += escaped; break;  // \" \\ \/
            }
        }
        expect('"');
        return result;
    }

    const std::string& text_;
    std::size_t position_ = 0;
};

uint64_t read_u64_le(const unsigned char* bytes) {
    uint64_t value = 0;
    for (int index = 7; index >= 0; --index) {
        value = (value << 8) | bytes[index];
    }
    return value;
}

}  // namespace

const JsonValue& JsonValue::at(const std::string& key) const {
    auto found = object.find(key);
    if (found == object.end()) {
        throw std::runtime_error("JSON: missing key '" + key + "'");
    }
    return found->second;
}

int64_t JsonValue::as_int() const {
    if (kind != Kind::Number) {
        throw std::runtime_error("JSON: not a number");
    }
    return static_cast<int64_t>(number);
}

bool JsonValue::as_bool() const {
    if (kind != Kind::Bool) {
        throw std::runtime_error("JSON: not a boolean");
    }
    return boolean;
}

JsonValue parse_json(const std::string& text) { return JsonParser(text).parse_document(); }

int64_t Tensor::element_count() const {
    int64_t count = 1;
    for (int64_t dimension : shape) {
        count *= dimension;
    }
    return count;
}

SafetensorsFile::SafetensorsFile(const std::string& path) {
    std::ifstream stream(path, std::ios::binary);
    if (!stream) {
        throw std::runtime_error("cannot open " + path);
    }
    std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(stream)), std::istreambuf_iterator<char>());
    if (bytes.size() < 8) {
        throw std::runtime_error(path + ": too short for a safetensors file");
    }
    const uint64_t header_size = read_u64_le(bytes.data());
    if (header_size > bytes.size() - 8) {
        throw std::runtime_error(path + ": header length past the end of the file");
    }
    const std::string header_text(reinterpret_cast<const char*>(bytes.data() + 8), header_size);
    const JsonValue header = parse_json(header_text);
    const unsigned char* data = bytes.data() + 8 + header_size;
    const uint64_t data_size = bytes.size() - 8 - header_size;

    for (const auto& [name, entry] : header.object) {
        if (name == "__metadata__") {
            if (entry.has("config")) {
                config_ = parse_json(entry.at("config").string);
            }
            continue;
        }
        Tensor tensor;
        tensor.dtype = entry.at("dtype").string;
        for (const JsonValue& dimension : entry.at("shape").array) {
            tensor.shape.push_back(dimension.as_int());
        }
        const auto begin = static_cast<uint64_t>(entry.at("data_offsets").array.at(0).as_int());
        const auto end = static_cast<uint64_t>(entry.at("data_offsets").array.at(1).as_int());
        const auto count = static_cast<uint64_t>(tensor.element_count());
        const uint64_t element_size = tensor.dtype == "F32" ? 4 : tensor.dtype == "I64" ? 8 : 0;
        if (element_size == 0 || end < begin || end > data_size || end - begin != count * element_size) {
            throw std::runtime_error(path + ": tensor '" + name + "' has an unsupported dtype or bad offsets");
        }
        // The files are little-endian, as is every machine these tests run on.
        if (tensor.dtype == "F32") {
            tensor.floats.resize(count);
            std::memcpy(tensor.floats.data(), data + begin, end - begin);
        } else {
            tensor.integers.resize(count);
            std::memcpy(tensor.integers.data(), data + begin, end - begin);
        }
        tensors_.emplace(name, std::move(tensor));
    }
}

const Tensor& SafetensorsFile::tensor(const std::string& name) const {
    auto found = tensors_.find(name);
    if (found == tensors_.end()) {
        throw std::runtime_error("no tensor named '" + name + "'");
    }
    return found->second;
}

}  // namespace fusedrnn::test
