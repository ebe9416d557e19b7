// deitctl info FILE: what a checkpoint holds.
#include <algorithm>
#include <cstdio>
#include <string>

#include "commands.h"
#include "common.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"

namespace deitctl {

namespace {

std::string scalar_text(const Json& v) {
  return v.is_string() ? v.str() : v.dump();
}

std::string shape_text(const Json* shape) {
  if (!shape || !shape->is_array()) return "?";
  if (shape->items().empty()) return "scalar";
  std::string s;
  for (const Json& d : shape->items()) s += (s.empty() ? "" : "x") + d.dump();
  return s;
}

}  // namespace

int cmd_info(int argc, char** argv) {
  cxxopts::Options options("deitctl info",
                           "Describe a libdeit checkpoint: kind, configuration, parameters, tensors.");
  options.custom_help("FILE [options]");
  options.positional_help("");
  // clang-format off
  options.add_options()
      ("file", "checkpoint (.safetensors written by libdeit)", cxxopts::value<std::string>(), "FILE")
      ("json", "print the library's JSON description unchanged")
      ("h,help", "show this help");
  // clang-format on
  options.parse_positional({"file"});
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  if (!has(args, "file")) throw UsageError("FILE is required");
  const std::string path = get<std::string>(args, "file");
  if (has(args, "json")) {
    std::printf("%s\n", describe_checkpoint(path).c_str());
    return kExitOk;
  }
  const Json d = checkpoint_description(path);
  auto field = [&](const char* key) { return d.find(key) ? scalar_text(*d.find(key)) : std::string("?"); };
  std::printf("%-12s %s\n", "file", path.c_str());
  std::printf("%-12s %s\n", "kind", field("kind").c_str());
  std::printf("%-12s %s (written by libdeit %s)\n", "format", field("format_version").c_str(),
              field("libdeit_version").c_str());
  if (const Json* p = d.find("params"))
    std::printf("%-12s %s\n", "parameters", format_count(p->integer()).c_str());
  if (const Json* cfg = d.find("config"); cfg && cfg->is_object()) {
    std::printf("configuration\n");
    for (const auto& [key, value] : cfg->members())
      std::printf("  %-18s %s\n", key.c_str(), scalar_text(value).c_str());
  }
  if (const Json* tensors = d.find("tensors"); tensors && tensors->is_array()) {
    size_t name_w = 4;
    for (const Json& t : tensors->items())
      if (const Json* n = t.find("name")) name_w = std::max(name_w, n->str().size());
    std::printf("tensors (%zu)\n  %-*s  %-8s %s\n", tensors->items().size(), static_cast<int>(name_w), "name",
                "dtype", "shape");
    for (const Json& t : tensors->items()) {
      const Json* n = t.find("name");
      const Json* dt = t.find("dtype");
      std::printf("  %-*s  %-8s %s\n", static_cast<int>(name_w), n ? n->str().c_str() : "?",
                  dt ? dt->str().c_str() : "?", shape_text(t.find("shape")).c_str());
    }
  }
  return kExitOk;
}

}  // namespace deitctl
