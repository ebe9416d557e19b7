#include "runtime/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <torch/cuda.h>
#include <torch/version.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>

#include "core/error.h"

namespace deit::runtime {
namespace {

int32_t core_count() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int32_t>(n);
}

// The default: OMP_NUM_THREADS when it is a positive number (the usual way to give a process fewer
// threads, e.g. several test processes on one machine), else the number of cores.
int32_t default_threads() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (env != nullptr) {
    char* end = nullptr;
    const long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1 && n <= 4096) return static_cast<int32_t>(n);
  }
  return core_count();
}

std::once_flag g_default_threads;
std::once_flag g_blas_threads;
std::atomic<bool> g_user_set{false};

// OpenBLAS (Debian's LibTorch calls it for matrix products) keeps its own pool of threads, which spin
// while they wait, beside LibTorch's OpenMP threads, which spin too: on 2 cores the two pools took turns
// and halved the student's training speed (308 -> 650 images/s with one BLAS thread; the ResNet-18
// teacher 155 -> 168; docs/PERFORMANCE.md).  LibTorch already spreads the work over its threads, so
// OpenBLAS gets one, unless OPENBLAS_NUM_THREADS says otherwise.  Other BLAS libraries (MKL in PyTorch's
// builds) do not have the symbol and are left alone.
void configure_blas_threads() {
  std::call_once(g_blas_threads, [] {
    if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
    using SetThreads = void (*)(int);
    if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
  });
}

std::once_flag g_malloc;

// glibc's malloc hands every block above its mmap threshold (128 KiB, raised dynamically only up to the
// largest block freed so far) straight back to the kernel when it is freed, and trims the heap above 128 KiB
// of free space: a training step's activations (the seed student's FFN hidden layer alone is 9.4 MB per
// block, 38 MB in evaluation batches) were then mapped, zero-filled page by page and unmapped again at every
// step.  That cost up to a third of an epoch in kernel time (perf: clear_page, page faults) and made
// evaluation take 5-9 s instead of 5 s for 10,000 images.  Freed memory now stays in the process for the
// next step; the peak is unchanged.  A process that chose its own malloc settings keeps them.
void configure_malloc() {
#if defined(__GLIBC__)
  std::call_once(g_malloc, [] {
    const char* tunables = std::getenv("GLIBC_TUNABLES");
    if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
        std::getenv("MALLOC_TOP_PAD_") != nullptr ||
        (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr))
      return;
    // Setting either disables glibc's dynamic threshold, so both are set.
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
  });
#endif
}

// Process-wide settings libdeit makes once, before its first tensor work.
void configure_process() {
  configure_blas_threads();
  configure_malloc();
}

}  // namespace

void set_num_threads(int32_t n) {
  require(n >= 0, "n = " + std::to_string(n) + " threads; expected 0 (all cores) or more");
  configure_process();
  g_user_set = true;
  at::set_num_threads(n == 0 ? core_count() : n);
}

int32_t num_threads() {
  ensure_threads();
  return at::get_num_threads();
}

void ensure_threads() {
  configure_process();
  std::call_once(g_default_threads, [] {
    if (!g_user_set) at::set_num_threads(default_threads());
  });
}

CallScope::~CallScope() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

const char* libtorch_version() { return TORCH_VERSION; }

bool cuda_compiled() {
#ifdef DEIT_HAVE_CUDA
  return true;
#else
  return false;
#endif
}

bool cuda_available() { return torch::cuda::is_available(); }

int32_t cuda_device_count() { return static_cast<int32_t>(torch::cuda::device_count()); }

c10::Device resolve_device(const std::string& spec) {
  if (spec == "auto") {
    return cuda_available() ? c10::Device(c10::DeviceType::CUDA, 0) : c10::Device(c10::DeviceType::CPU);
  }
  if (spec == "cpu") return c10::Device(c10::DeviceType::CPU);
  int index = 0;
  if (spec == "cuda") {
    index = 0;
  } else if (spec.rfind("cuda:", 0) == 0 && spec.size() > 5 && spec.size() <= 8) {
    for (size_t i = 5; i < spec.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(spec[i])))
        invalid_arg("device \"" + spec + "\" is not one of auto, cpu, cuda, cuda:N");
    index = std::stoi(spec.substr(5));
  } else {
    invalid_arg("device \"" + spec + "\" is not one of auto, cpu, cuda, cuda:N");
  }
  if (!cuda_available()) fail(DEIT_E_DEVICE, "device \"" + spec + "\" requested but CUDA is not available in this build or on this machine");
  if (index >= cuda_device_count())
    fail(DEIT_E_DEVICE, "device \"" + spec + "\" requested but only " + std::to_string(cuda_device_count()) +
                            " CUDA device(s) are present");
  return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

std::string device_name(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
}

void seeded_init(uint64_t seed, const std::function<void()>& build) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  at::manual_seed(seed);
  build();
}

}  // namespace deit::runtime
