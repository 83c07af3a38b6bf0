// libFuzzer driver for .NET fuzz targets written with SharpFuzz (Fuzzer.LibFuzzer.Run).
//
//   clang-14 -std=c++17 -O2 -fsanitize=fuzzer fuzz/driver/libfuzzer_dotnet_driver.cpp -o fusedrnn-fuzz-driver
//   fusedrnn-fuzz-driver --target=dotnet --target-arg=FusedRnn.Fuzz.dll --target-arg=npy [libFuzzer flags] CORPUS...
//
// libFuzzer owns the loop; this file starts the managed process once and forwards every input to it. What
// SharpFuzz's runner expects (SharpFuzz 2.x, POSIX):
//   - a System V shared memory segment whose id is in __LIBFUZZER_SHM_ID: the first 64 KiB are the coverage map
//     that the instrumented assembly bumps (one byte per edge hash), the input's bytes follow;
//   - two pipe file descriptors, whose numbers are in __LIBFUZZER_CONTROL_PIPE_ID (the runner reads a 4-byte input
//     length from it, native byte order) and __LIBFUZZER_STATUS_PIPE_ID (it writes a 4-byte status back: 0 ran
//     cleanly, anything else means an exception escaped the target);
//   - one status 0 on the status pipe once the runner is ready, before the first input.
// The coverage map reaches libFuzzer as extra counters: an array in the __libfuzzer_extra_counters section, which
// libFuzzer clears before each input and reads after it.
//
// A non-zero status, or the managed process dying (a stack overflow, Environment.FailFast, an OOM kill), is reported
// as a crash with __builtin_trap(), so libFuzzer stops and writes the input to its crash-* artifact. Flags starting
// with "--" are ours; libFuzzer ignores them:
//   --target=PROGRAM, --target-arg=ARG (repeatable)  what to run
//   --target-rss-limit-mb=N  report an input after which the managed process's resident memory exceeds N MiB as a
//                            crash too (libFuzzer's own -rss_limit_mb sees only this process). 0, the default: off.

#include <fcntl.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

constexpr size_t kCoverageBytes = size_t{1} << 16;  // SharpFuzz's map size; fixed in the instrumented code
constexpr size_t kMaxInputBytes = size_t{16} << 20;  // a larger input is skipped; keep -max_len below this

// The descriptor numbers the child gets; high, so that nothing the runtime opens early takes them.
constexpr int kChildControlFd = 200;
constexpr int kChildStatusFd = 201;

struct Driver {
    std::string target;
    std::vector<std::string> target_args;
    int shm_id = -1;
    uint8_t* shared = nullptr;  // coverage map, then input
    int control_fd = -1;        // we write input lengths
    int status_fd = -1;         // we read statuses
    pid_t child = -1;
    long long rss_limit_bytes = 0;  // 0: no limit
    int statm_fd = -1;              // the child's /proc/PID/statm, kept open
};

Driver g_driver;

}  // namespace

extern "C" {
__attribute__((used, section("__libfuzzer_extra_counters"))) uint8_t g_extra_counters[kCoverageBytes];
}

namespace {

[[noreturn]] void Fail(const char* what) {
    std::fprintf(stderr, "fuzz driver: %s\n", what);
    std::exit(1);
}

[[noreturn]] void FailErrno(const char* what) {
    std::fprintf(stderr, "fuzz driver: %s: %s\n", what, std::strerror(errno));
    std::exit(1);
}

// Says how the child ended, if it did, and reports the current input as a crash.
[[noreturn]] void ChildDied(const char* what) {
    int status = 0;
    std::fprintf(stderr, "fuzz driver: %s\n", what);
    if (g_driver.child > 0 && waitpid(g_driver.child, &status, 0) == g_driver.child) {
        if (WIFEXITED(status))
            std::fprintf(stderr, "fuzz driver: the .NET process exited with code %d\n", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
            std::fprintf(stderr, "fuzz driver: the .NET process was killed by signal %d (%s)\n", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        g_driver.child = -1;
    }
    std::fflush(stderr);
    __builtin_trap();
}

bool StartsWith(const char* text, const char* prefix) { return std::strncmp(text, prefix, std::strlen(prefix)) == 0; }

void ParseFlags(int argc, char** argv) {
    for (int i = 1; i < argc; i++) {
        if (StartsWith(argv[i], "--target="))
            g_driver.target = argv[i] + std::strlen("--target=");
        else if (StartsWith(argv[i], "--target-arg="))
            g_driver.target_args.emplace_back(argv[i] + std::strlen("--target-arg="));
        else if (StartsWith(argv[i], "--target-rss-limit-mb="))
            g_driver.rss_limit_bytes = std::atoll(argv[i] + std::strlen("--target-rss-limit-mb=")) << 20;
    }
    if (g_driver.target.empty())
        Fail("no target: pass --target=PROGRAM and one --target-arg=ARG per argument (see fuzz/README.md)");
}

// Reads or writes exactly 4 bytes, retrying on EINTR; false when the other end is gone.
bool ReadInt32(int fd, int32_t* value) {
    auto* bytes = reinterpret_cast<char*>(value);
    size_t done = 0;
    while (done < sizeof *value) {
        ssize_t n = read(fd, bytes + done, sizeof *value - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

bool WriteInt32(int fd, int32_t value) {
    const auto* bytes = reinterpret_cast<const char*>(&value);
    size_t done = 0;
    while (done < sizeof value) {
        ssize_t n = write(fd, bytes + done, sizeof value - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<size_t>(n);
    }
    return true;
}

// The child's resident set in bytes (the second field of /proc/PID/statm, in pages), or -1 if unreadable.
long long ChildRssBytes() {
    char text[128];
    ssize_t n = pread(g_driver.statm_fd, text, sizeof text - 1, 0);
    if (n <= 0) return -1;
    text[n] = '\0';
    long long size = 0, resident = 0;
    if (std::sscanf(text, "%lld %lld", &size, &resident) != 2) return -1;
    return resident * sysconf(_SC_PAGESIZE);
}

void Cleanup() {
    if (g_driver.child > 0) {
        kill(g_driver.child, SIGKILL);
        waitpid(g_driver.child, nullptr, 0);
        g_driver.child = -1;
    }
    if (g_driver.shm_id >= 0) {
        shmctl(g_driver.shm_id, IPC_RMID, nullptr);
        g_driver.shm_id = -1;
    }
}

[[noreturn]] void ExecChild(int control_read, int status_write) {
    // libFuzzer leaves with _Exit on a timeout or crash, skipping atexit: the child must not outlive it, still
    // running the input that hung.
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) FailErrno("prctl");
    if (getppid() == 1) _exit(1);
    if (dup2(control_read, kChildControlFd) < 0 || dup2(status_write, kChildStatusFd) < 0) FailErrno("dup2");
    std::string shm = std::to_string(g_driver.shm_id);
    std::string control = std::to_string(kChildControlFd);
    std::string status = std::to_string(kChildStatusFd);
    if (setenv("__LIBFUZZER_SHM_ID", shm.c_str(), 1) || setenv("__LIBFUZZER_CONTROL_PIPE_ID", control.c_str(), 1) ||
        setenv("__LIBFUZZER_STATUS_PIPE_ID", status.c_str(), 1))
        FailErrno("setenv");

    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(g_driver.target.c_str()));
    for (std::string& arg : g_driver.target_args) argv.push_back(&arg[0]);
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    std::fprintf(stderr, "fuzz driver: cannot run %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
    ParseFlags(*argc, *argv);
    // A write to a dead child must fail with EPIPE (reported as a crash), not kill the driver silently.
    std::signal(SIGPIPE, SIG_IGN);

    g_driver.shm_id = shmget(IPC_PRIVATE, kCoverageBytes + kMaxInputBytes, IPC_CREAT | IPC_EXCL | 0600);
    if (g_driver.shm_id < 0) FailErrno("shmget");
    std::atexit(Cleanup);
    void* shared = shmat(g_driver.shm_id, nullptr, 0);
    if (shared == reinterpret_cast<void*>(-1)) FailErrno("shmat");
    g_driver.shared = static_cast<uint8_t*>(shared);

    int control[2], status[2];
    if (pipe(control) != 0 || pipe(status) != 0) FailErrno("pipe");

    g_driver.child = fork();
    if (g_driver.child < 0) FailErrno("fork");
    if (g_driver.child == 0) {
        close(control[1]);
        close(status[0]);
        ExecChild(control[0], status[1]);
    }
    close(control[0]);
    close(status[1]);
    g_driver.control_fd = control[1];
    g_driver.status_fd = status[0];

    int32_t ready = 0;
    if (!ReadInt32(g_driver.status_fd, &ready))
        Fail("the .NET target exited before it was ready (did it call Fuzzer.LibFuzzer.Run? see its output above)");
    if (g_driver.rss_limit_bytes > 0) {
        std::string statm = "/proc/" + std::to_string(g_driver.child) + "/statm";
        g_driver.statm_fd = open(statm.c_str(), O_RDONLY | O_CLOEXEC);
        if (g_driver.statm_fd < 0) FailErrno("open /proc/PID/statm");
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size > kMaxInputBytes) {
        static bool warned = false;
        if (!warned) std::fprintf(stderr, "fuzz driver: skipping inputs over %zu bytes; lower -max_len\n", kMaxInputBytes);
        warned = true;
        return 0;
    }

    std::memset(g_driver.shared, 0, kCoverageBytes);
    if (size > 0) std::memcpy(g_driver.shared + kCoverageBytes, data, size);
    if (!WriteInt32(g_driver.control_fd, static_cast<int32_t>(size)))
        ChildDied("the .NET target is gone (writing the input length failed)");
    int32_t status = 0;
    if (!ReadInt32(g_driver.status_fd, &status))
        ChildDied("the .NET target died while running this input");
    std::memcpy(g_extra_counters, g_driver.shared, kCoverageBytes);

    if (status != 0) {
        std::fprintf(stderr, "fuzz driver: an exception escaped the .NET target (status %d; it is printed above)\n", status);
        std::fflush(stderr);
        __builtin_trap();
    }
    if (g_driver.rss_limit_bytes > 0) {
        long long rss = ChildRssBytes();
        if (rss > g_driver.rss_limit_bytes) {
            std::fprintf(stderr,
                         "fuzz driver: after this input the .NET target holds %lld MiB, over --target-rss-limit-mb=%lld: "
                         "a reader allocated what the input claims, or memory grows from input to input\n",
                         rss >> 20, g_driver.rss_limit_bytes >> 20);
            std::fflush(stderr);
            __builtin_trap();
        }
    }
    return 0;
}
