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
  return v.is_string() ? v.get<std::string>() : dump_json(v);
}

std::string shape_text(const Json* shape) {
  if (!shape || !shape->is_array()) return "?";
  if (shape->empty()) return "scalar";
  std::string s;
  for (const Json& d : *shape) s += (s.empty() ? "" : "x") + dump_json(d);
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
  auto field = [&](const char* key) {
    const Json* v = json_member(d, key);
    return v ? scalar_text(*v) : std::string("?");
  };
  std::printf("%-12s %s\n", "file", path.c_str());
  std::printf("%-12s %s\n", "kind", field("kind").c_str());
  std::printf("%-12s %s (written by libdeit %s)\n", "format", field("format_version").c_str(),
              field("libdeit_version").c_str());
  if (const Json* p = json_member(d, "params"); p && p->is_number_integer())
    std::printf("%-12s %s\n", "parameters", format_count(p->get<int64_t>()).c_str());
  if (const Json* cfg = json_member(d, "config"); cfg && cfg->is_object()) {
    std::printf("configuration\n");
    for (const auto& member : cfg->items())
      std::printf("  %-18s %s\n", member.key().c_str(), scalar_text(member.value()).c_str());
  }
  if (const Json* tensors = json_member(d, "tensors"); tensors && tensors->is_array()) {
    size_t name_w = 4;
    for (const Json& t : *tensors) name_w = std::max(name_w, json_string(t, "name", "?").size());
    std::printf("tensors (%zu)\n  %-*s  %-8s %s\n", tensors->size(), static_cast<int>(name_w), "name",
                "dtype", "shape");
    for (const Json& t : *tensors)
      std::printf("  %-*s  %-8s %s\n", static_cast<int>(name_w), json_string(t, "name", "?").c_str(),
                  json_string(t, "dtype", "?").c_str(), shape_text(json_member(t, "shape")).c_str());
  }
  return kExitOk;
}

}  // namespace deitctl
