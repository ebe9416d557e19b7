// deitctl data [DIR]: what a data directory holds, per split.
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "common.h"
#include "defaults.h"
#include "json.h"
#include "options.h"
#include "pipeline.h"

namespace deitctl {

int cmd_data(int argc, char** argv) {
  cxxopts::Options options("deitctl data",
                           "Summarise a data set (an IDX or CIFAR directory, an image folder or a .csv list file), split by split.");
  options.custom_help("[DIR] [options]");
  options.positional_help("");
  // clang-format off
  options.add_options()
      ("dir", std::string("data directory (default ") + kDefaultDataDir + ")",
       cxxopts::value<std::string>(), "DIR")
      ("json", "print JSON instead of text")
      ("seed", "with an image folder without split folders: the held-out test share's seed (default 0)",
       cxxopts::value<uint64_t>(), "N")
      ("h,help", "show this help");
  // clang-format on
  add_image_options(options);
  options.parse_positional({"dir"});
  auto args = parse_args(options, argc, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  const std::string dir = get_or<std::string>(args, "dir", kDefaultDataDir);
  const bool json = has(args, "json");

  Json splits = Json::object();
  std::string text;
  const std::pair<const char*, deit_split> kSplits[] = {{"train", DEIT_SPLIT_TRAIN},
                                                        {"test", DEIT_SPLIT_TEST}};
  // The splits `deitctl run` would use (an image folder without split folders: a held-out test share).
  const DataSplits data = open_splits(dir, 1.0, get_or<uint64_t>(args, "seed", 0), 0, image_options(args), json);
  for (const auto& [name, split] : kSplits) {
    const deit_dataset* ds = split == DEIT_SPLIT_TRAIN ? data.train.get() : data.test.get();
    const deit_dataset_info info = dataset_info(ds);
    std::vector<int64_t> hist(static_cast<size_t>(info.num_classes));
    check(deit_dataset_label_histogram(ds, hist.data(), hist.size()));
    Json h = Json::array();
    for (int64_t c : hist) h.push_back(c);
    Json entry = Json::object();
    entry["format"] = format_name(info.format);
    entry["count"] = info.count;
    entry["channels"] = info.channels;
    entry["height"] = info.height;
    entry["width"] = info.width;
    entry["classes"] = info.num_classes;
    entry["histogram"] = h;
    std::string names;
    Json name_list = Json::array();
    for (const std::string& n : class_names(ds)) {
      names += (names.empty() ? "" : ", ") + n;
      name_list.push_back(n);
    }
    if (!names.empty()) entry["class_names"] = name_list;
    if (info.skipped > 0) entry["skipped"] = info.skipped;
    splits[name] = entry;
    char line[256];
    std::snprintf(line, sizeof line, "%-5s  %s  %lld images  %dx%dx%d  %d classes\n       per class:", name,
                  format_name(info.format), static_cast<long long>(info.count), info.channels, info.height,
                  info.width, info.num_classes);
    text += line;
    for (int64_t c : hist) text += " " + std::to_string(c);
    text += "\n";
    if (!names.empty()) text += "       classes: " + names + "\n";
    if (info.skipped > 0) text += "       skipped: " + std::to_string(info.skipped) + " unreadable files\n";
  }
  // Everything is read before anything is printed: a malformed split leaves no half report.
  if (json)
    std::printf("%s\n", dump_json(Json{{"dir", dir}, {"splits", splits}}, 2).c_str());
  else
    std::printf("%s", text.c_str());
  return kExitOk;
}

}  // namespace deitctl
