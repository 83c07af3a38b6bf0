#include "cpu/cpu_topology.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

namespace fusedrnn {
namespace {

// Online CPU numbers from a list like "0-3,8,10-11".
std::set<int> parse_cpu_list(const std::string& text) {
    std::set<int> cpus;
    std::stringstream stream(text);
    std::string range;
    while (std::getline(stream, range, ',')) {
        const std::size_t dash = range.find('-');
        const int first = std::stoi(range.substr(0, dash));
        const int last = dash == std::string::npos ? first : std::stoi(range.substr(dash + 1));
        for (int cpu = first; cpu <= last; ++cpu) {
            cpus.insert(cpu);
        }
    }
    return cpus;
}

int read_int(const std::string& path) {
    std::ifstream file(path);
    int value = -1;
    file >> value;
    return file ? value : -1;
}

int count_physical_cores() {
    std::ifstream online_file("/sys/devices/system/cpu/online");
    std::string online;
    if (std::getline(online_file, online)) {
        try {
            std::set<std::pair<int, int>> cores;  // (package, core)
            for (int cpu : parse_cpu_list(online)) {
                const std::string topology = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
                const int package = read_int(topology + "physical_package_id");
                const int core = read_int(topology + "core_id");
                if (core < 0) {
                    cores.clear();
                    break;
                }
                cores.insert({package, core});
            }
            if (!cores.empty()) {
                return static_cast<int>(cores.size());
            }
        } catch (const std::exception&) {
            // a malformed list: fall through
        }
    }
    const unsigned logical = std::thread::hardware_concurrency();
    return logical == 0 ? 1 : static_cast<int>(logical);
}

}  // namespace

int physical_core_count() {
    static const int count = count_physical_cores();
    return count;
}

int logical_processor_count() {
    static const int count = [] {
        const unsigned logical = std::thread::hardware_concurrency();
        return logical == 0 ? 1 : static_cast<int>(logical);
    }();
    return count;
}

int thread_limit() {
    static const int limit = [] {
        const char* text = std::getenv("FUSEDRNN_THREAD_LIMIT");
        if (text == nullptr || text[0] == '\0') {
            return logical_processor_count();
        }
        char* end = nullptr;
        errno = 0;
        const long value = std::strtol(text, &end, 10);
        if (errno == 0 && *end == '\0' && value > 0 && value <= 1024) {
            return static_cast<int>(value);
        }
        std::fprintf(stderr, "fusedrnn: warning: FUSEDRNN_THREAD_LIMIT=%s is not a thread count in 1..1024; using %d\n",
                     text, logical_processor_count());
        return logical_processor_count();
    }();
    return limit;
}

int resolve_thread_count(int num_threads) {
    return num_threads != 0 ? std::min(num_threads, thread_limit()) : physical_core_count();
}

}  // namespace fusedrnn
