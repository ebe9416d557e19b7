#include "runtime/runtime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/Tensor.h>
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
std::atomic<bool> g_user_set{false};

// OpenBLAS (Debian's LibTorch calls it for matrix products) keeps its own pool of threads, which spin
// while they wait, beside LibTorch's OpenMP threads, which spin too: on 2 cores the two pools took turns
// and halved the student's training speed (308 -> 650 images/s with one BLAS thread; the ResNet-18
// teacher 155 -> 168; docs/PERFORMANCE.md).  LibTorch already spreads the work over its threads, so
// OpenBLAS gets one, unless OPENBLAS_NUM_THREADS says otherwise.  Other BLAS libraries (MKL in PyTorch's
// builds) do not have the symbol and are left alone.
void configure_blas_threads() {
  if (std::getenv("OPENBLAS_NUM_THREADS") != nullptr) return;
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
}

// glibc's malloc hands every block above its mmap threshold (128 KiB, raised dynamically only up to the
// largest block freed so far) straight back to the kernel when it is freed, and trims the heap above 128 KiB
// of free space: a training step's activations (the seed student's FFN hidden layer alone is 9.4 MB per
// block, 38 MB in evaluation batches) were then mapped, zero-filled page by page and unmapped again at every
// step.  That cost up to a third of an epoch in kernel time (perf: clear_page, page faults) and made
// evaluation take 5-9 s instead of 5 s for 10,000 images.  Freed memory now stays in the process for the
// next step; the peak is unchanged.  A process that chose its own malloc settings keeps them.
void configure_malloc() {
#if defined(__GLIBC__)
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") != nullptr || std::getenv("MALLOC_TRIM_THRESHOLD_") != nullptr ||
      std::getenv("MALLOC_TOP_PAD_") != nullptr ||
      (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr))
    return;
  // Setting either disables glibc's dynamic threshold, so both are set.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

std::mutex g_process_mutex;
std::atomic<bool> g_applied{false};
ProcessSettings g_settings;  // written once under the mutex, before g_applied

void apply_locked(const ProcessSettings& s) {
  if (s.single_threaded_blas) configure_blas_threads();
  if (s.tune_malloc) configure_malloc();
  if (s.num_threads > 0) {
    g_user_set = true;
    at::set_num_threads(s.num_threads);
  }
  g_settings = s;
  g_applied.store(true, std::memory_order_release);
}

// Process-wide settings libdeit makes once, before its first tensor work: deit_runtime_init's, or the
// defaults.
void configure_process() {
  if (g_applied.load(std::memory_order_acquire)) return;
  std::lock_guard<std::mutex> lock(g_process_mutex);
  if (!g_applied.load(std::memory_order_relaxed)) apply_locked(ProcessSettings{});
}

}  // namespace

bool init_process(const ProcessSettings& s) {
  require(s.num_threads >= 0, "num_threads = " + std::to_string(s.num_threads) + "; expected 0 (the default) or more");
  std::lock_guard<std::mutex> lock(g_process_mutex);
  if (g_applied.load(std::memory_order_relaxed)) return false;
  apply_locked(s);
  return true;
}

ProcessSettings process_settings(bool* applied) {
  std::lock_guard<std::mutex> lock(g_process_mutex);
  *applied = g_applied.load(std::memory_order_relaxed);
  return *applied ? g_settings : ProcessSettings{};
}

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
  if (g_settings.tune_malloc) malloc_trim(0);  // applied before any CallScope (its constructor)
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
  at::Generator gen = at::detail::getDefaultCPUGenerator();
  const at::Tensor saved = gen.get_state();
  // Restores the caller's generator also when building throws.
  struct Restore {
    at::Generator& gen;
    const at::Tensor& state;
    ~Restore() {
      std::lock_guard<std::mutex> g(gen.mutex());
      gen.set_state(state);
    }
  } restore{gen, saved};
  {
    std::lock_guard<std::mutex> g(gen.mutex());
    gen.set_current_seed(seed);
  }
  build();
}

}  // namespace deit::runtime
