// deitctl: the command line over libdeit's C API (include/deit/deit.h only).
// Exit codes: 0 success, 1 runtime error (the library's message), 2 usage error, 130 interrupted (Ctrl-C).
#include <deit/deit.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "commands.h"
#include "common.h"

namespace {

struct Command {
  const char* name;
  const char* synopsis;
  const char* summary;
  int (*fn)(int, char**);
};

const Command kCommands[] = {
    {"run", "[options]", "the notebook end to end: teacher, student, evaluation, outputs in --out",
     deitctl::cmd_run},
    {"data", "[DIR] [--json]", "summarise a data set directory (default: Fashion-MNIST)", deitctl::cmd_data},
    {"teacher", "--out FILE [--data DIR] [options]", "train or fine-tune a ResNet teacher and save it",
     deitctl::cmd_teacher},
    {"distill", "--teacher FILE --out FILE [--data DIR] [options]",
     "distill a saved teacher into a new student", deitctl::cmd_distill},
    {"eval", "MODEL [--data DIR] [--split test|train] [--head avg|cls|dist] [--confusion] [--json]",
     "accuracy of a student or teacher checkpoint", deitctl::cmd_eval},
    {"predict", "MODEL IMAGE... | MODEL --idx FILE [--limit N] [--json]", "classify images",
     deitctl::cmd_predict},
    {"info", "FILE [--json]", "describe a checkpoint", deitctl::cmd_info},
    {"export", "MODEL --onnx OUT [--head avg|cls|dist] [--json]",
     "write a student's inference as an ONNX model", deitctl::cmd_export},
    {"version", "[--json]", "print versions and devices", deitctl::cmd_version},
    {"launch", "--nproc N [options] -- COMMAND [ARGS...]",
     "run a command as N data-parallel processes (torchrun's environment)", deitctl::cmd_launch},
};

void print_usage(FILE* out) {
  std::fprintf(out, "usage: deitctl <command> [options]\n\ncommands:\n");
  for (const Command& c : kCommands) std::fprintf(out, "  %-9s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'deitctl <command> --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(stderr);
    return deitctl::kExitUsage;
  }
  const std::string name = argv[1];
  if (name == "-h" || name == "--help" || name == "help") {
    print_usage(stdout);
    return deitctl::kExitOk;
  }
  // deitctl owns its process: it asks for libdeit's default process settings (one OpenBLAS thread, malloc
  // kept warm during calls), explicitly, before any other libdeit call.
  deit_runtime_options runtime;
  if (deit_runtime_options_init(&runtime) != DEIT_OK || deit_runtime_init(&runtime) != DEIT_OK) {
    std::fprintf(stderr, "deitctl: %s\n", deit_last_error());
    return deitctl::kExitRuntime;
  }
  if (name == "--version") return deitctl::cmd_version(1, argv + 1);
  const Command* cmd = nullptr;
  for (const Command& c : kCommands)
    if (name == c.name) cmd = &c;
  if (!cmd) {
    std::fprintf(stderr, "deitctl: unknown command '%s'\n", name.c_str());
    print_usage(stderr);
    return deitctl::kExitUsage;
  }
  try {
    return cmd->fn(argc - 1, argv + 1);
  } catch (const deitctl::UsageError& e) {
    std::fprintf(stderr, "deitctl %s: %s\nusage: deitctl %s %s\nRun 'deitctl %s --help' for its options.\n",
                 cmd->name, e.what(), cmd->name, cmd->synopsis, cmd->name);
    return deitctl::kExitUsage;
  } catch (const deitctl::Interrupted&) {
    // Outputs not yet renamed into place were removed while the stack unwound.
    std::fprintf(stderr, "deitctl: interrupted\n");
    return deitctl::kExitInterrupted;
  } catch (const deitctl::LibraryError& e) {
    std::fprintf(stderr, "deitctl %s: %s\n", cmd->name, e.what());
    return deitctl::kExitRuntime;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "deitctl %s: %s: deitctl ran out of memory\n", cmd->name,
                 deit_status_str(DEIT_E_OOM));
    return deitctl::kExitRuntime;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deitctl %s: %s\n", cmd->name, e.what());
    return deitctl::kExitRuntime;
  }
}
