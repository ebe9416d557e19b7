// deitctl version: what this build is (libdeit, LibTorch, CUDA compiled in) and which devices are present.
#include <cstdio>
#include <string>

#include "commands.h"
#include "common.h"
#include "json.h"
#include "options.h"

namespace deitctl {

int cmd_version(int argc, char** argv) {
  cxxopts::Options options("deitctl version",
                           "Print the versions of deitctl and the loaded libdeit, and devices.");
  options.custom_help("[options]");
  options.add_options()("json", "print JSON")("h,help", "show this help");
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  char built[32];
  std::snprintf(built, sizeof built, "%d.%d.%d", DEIT_VERSION_MAJOR, DEIT_VERSION_MINOR, DEIT_VERSION_PATCH);
  const int cuda = deit_cuda_available();
  const int32_t devices = deit_cuda_device_count();
  if (has(args, "json")) {
    Json j = Json::object();
    j["deitctl"] = built;
    j["libdeit"] = deit_version_string();
    j["libtorch"] = deit_libtorch_version();
    j["cuda_compiled"] = deit_cuda_compiled() != 0;
    j["cuda_available"] = cuda != 0;
    j["cuda_devices"] = devices;
    j["threads"] = deit_get_num_threads();
    std::printf("%s\n", dump_json(j, 2).c_str());
    return kExitOk;
  }
  std::printf("deitctl %s (libdeit %s loaded)\n", built, deit_version_string());
  std::printf("LibTorch: %s\n", deit_libtorch_version());
  if (!deit_cuda_compiled())
    std::printf("CUDA: not compiled in (a CPU-only LibTorch)\n");
  else
    std::printf("CUDA: compiled in; %s\n", cuda ? (std::to_string(devices) + " device(s)").c_str() : "no device present");
  return kExitOk;
}

}  // namespace deitctl
