#include "runtime/runtime.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <torch/cuda.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
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

}  // namespace

void set_num_threads(int32_t n) {
  require(n >= 0, "n = " + std::to_string(n) + " threads; expected 0 (all cores) or more");
  configure_blas_threads();
  g_user_set = true;
  at::set_num_threads(n == 0 ? core_count() : n);
}

int32_t num_threads() {
  ensure_threads();
  return at::get_num_threads();
}

void ensure_threads() {
  configure_blas_threads();
  std::call_once(g_default_threads, [] {
    if (!g_user_set) at::set_num_threads(default_threads());
  });
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
