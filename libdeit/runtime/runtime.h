// Process-wide runtime settings: intra-op threads and device selection.
// CUDA-specific code of the library lives under runtime/ only.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <string>

namespace deit::runtime {

// What libdeit changes in the process, applied once (deit_runtime_options in deit.h).
struct ProcessSettings {
  int32_t num_threads = 0;  // 0: OMP_NUM_THREADS, else the cores
  bool single_threaded_blas = true;
  bool tune_malloc = true;
};
// Applies `s` and returns true; false (nothing changed) when settings were applied already, by an earlier
// call or by the first tensor work with the defaults.
bool init_process(const ProcessSettings& s);
// The settings in effect, or the defaults not yet applied (*applied false).
ProcessSettings process_settings(bool* applied);

// Threads: 0 means the number of cores.  The first training, evaluation or
// prediction applies the default (LibTorch itself starts with 1 thread on
// some machines).
void set_num_threads(int32_t n);
int32_t num_threads();
void ensure_threads();

// Wraps one long library call (training, evaluation): applies the process settings first (ensure_threads,
// BLAS threads, malloc reuse) and, when the call ends, gives the memory it freed back to the system (during
// the call glibc keeps freed blocks for the next step: runtime.cpp).
class CallScope {
 public:
  CallScope() { ensure_threads(); }
  ~CallScope();
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;
};

// TORCH_VERSION of the headers libdeit was compiled with, and whether that LibTorch has CUDA.
const char* libtorch_version();
bool cuda_compiled();
bool cuda_available();
int32_t cuda_device_count();

// Parses "auto" | "cpu" | "cuda" | "cuda:N"; throws deit::Error
// (INVALID_ARG for a malformed spec, DEVICE when it is not available).
c10::Device resolve_device(const std::string& spec);
std::string device_name(const c10::Device& device);

// Building a model draws its initial weights from LibTorch's global CPU
// generator: seed it and build under this lock so threads don't interleave,
// then put the generator back as it was (an application's own LibTorch use
// does not see libdeit's seeds).
void seeded_init(uint64_t seed, const std::function<void()>& build);

}  // namespace deit::runtime
