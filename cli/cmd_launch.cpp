// deitctl launch: start N processes of one command on this machine with torchrun's environment (RANK,
// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so that they form one data-parallel
// group; wait for them; when one fails, stop the others (SIGTERM, then SIGKILL) and exit with its status.
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "commands.h"
#include "common.h"
#include "options.h"

namespace deitctl {

namespace {

constexpr double kGraceSeconds = 10;  // between SIGTERM and SIGKILL for the ranks left

volatile sig_atomic_t g_forward_signal = 0;
void on_signal(int sig) { g_forward_signal = sig; }

// A port nobody listens on now (the kernel's choice), for --master-port 0.
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw LibraryError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    throw LibraryError("could not find a free port: " + err);
  }
  close(fd);
  return ntohs(a.sin_port);
}

// "deitctl" as the command means this deitctl, also when it is not on PATH (a build tree).
std::string program_path(const std::string& name) {
  if (name != "deitctl") return name;
  char buf[4096];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return name;
  buf[n] = '\0';
  return buf;
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("was killed by signal ") + strsignal(WTERMSIG(status));
  return "stopped";
}

int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return kExitRuntime;
}

}  // namespace

int cmd_launch(int argc, char** argv) {
  // Everything after "--" is the command; cxxopts sees only what comes before.
  int split = argc;
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--") == 0) {
      split = i;
      break;
    }
  cxxopts::Options options("deitctl launch",
                           "Start --nproc processes of a command (usually deitctl teacher/distill/run) as one "
                           "data-parallel group on this machine, with torchrun's environment variables; each "
                           "rank trains on its share of every batch (--batch-size is per process).");
  options.custom_help("--nproc N [options] -- COMMAND [ARGS...]");
  // clang-format off
  options.add_options()
      ("nproc", "processes on this machine", cxxopts::value<int32_t>(), "N")
      ("nnodes", "machines in the job (default 1)", cxxopts::value<int32_t>(), "N")
      ("node-rank", "this machine's index, 0 .. nnodes-1 (default 0)", cxxopts::value<int32_t>(), "K")
      ("master-addr", "address of node 0 (default 127.0.0.1)", cxxopts::value<std::string>(), "HOST")
      ("master-port", "port of node 0's rendezvous (default 29500; 0: a free one, single machine only)",
       cxxopts::value<int32_t>(), "PORT")
      ("h,help", "show this help");
  // clang-format on
  auto args = parse_args(options, split, argv);
  if (has(args, "help")) {
    print_help(options);
    return kExitOk;
  }
  if (split >= argc - 1) throw UsageError("give the command to start after --");
  if (!has(args, "nproc")) throw UsageError("--nproc is required");
  const int32_t nproc = get<int32_t>(args, "nproc");
  require_positive("nproc", nproc);
  const int32_t nnodes = get_or<int32_t>(args, "nnodes", 1);
  require_positive("nnodes", nnodes);
  const int32_t node_rank = get_or<int32_t>(args, "node-rank", 0);
  if (node_rank < 0 || node_rank >= nnodes) throw UsageError("--node-rank must be in 0 .. nnodes-1");
  const std::string addr = get_or<std::string>(args, "master-addr", "127.0.0.1");
  int32_t port = get_or<int32_t>(args, "master-port", 29500);
  if (port < 0 || port > 65535) throw UsageError("--master-port must be in 0 .. 65535");
  if (port == 0) {
    if (nnodes > 1) throw UsageError("--master-port 0 only works on one machine");
    port = free_port();
  }
  const int32_t world = nproc * nnodes;

  std::vector<std::string> command(argv + split + 1, argv + argc);
  command[0] = program_path(command[0]);
  std::vector<char*> cargv;
  for (std::string& a : command) cargv.push_back(a.data());
  cargv.push_back(nullptr);

  // Threads: LibTorch's OpenMP threads spin while waiting, so N processes must share the cores, not each
  // take all of them.  An OMP_NUM_THREADS already set wins.
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  const std::string threads = std::to_string(std::max<long>(1, cores / nproc));

  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  std::vector<pid_t> pids(static_cast<size_t>(nproc), -1);
  for (int32_t local = 0; local < nproc; ++local) {
    const pid_t pid = fork();
    if (pid < 0) throw LibraryError(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      signal(SIGINT, SIG_DFL);
      signal(SIGTERM, SIG_DFL);
      setenv("RANK", std::to_string(node_rank * nproc + local).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(local).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("LOCAL_WORLD_SIZE", std::to_string(nproc).c_str(), 1);
      setenv("GROUP_RANK", std::to_string(node_rank).c_str(), 1);
      setenv("MASTER_ADDR", addr.c_str(), 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      setenv("OMP_NUM_THREADS", threads.c_str(), 0);
      execvp(cargv[0], cargv.data());
      std::fprintf(stderr, "deitctl launch: cannot start %s: %s\n", cargv[0], std::strerror(errno));
      _exit(127);
    }
    pids[static_cast<size_t>(local)] = pid;
  }
  std::fprintf(stderr, "deitctl launch: %d processes (ranks %d..%d of %d), rendezvous at %s:%d\n", nproc,
               node_rank * nproc, node_rank * nproc + nproc - 1, world, addr.c_str(), port);

  int result = kExitOk;
  bool stopping = false;
  int forwarded = 0;
  auto stop_time = std::chrono::steady_clock::now();
  int running = nproc;
  while (running > 0) {
    if (g_forward_signal != 0 && g_forward_signal != forwarded) {
      forwarded = g_forward_signal;  // Ctrl-C: every rank stops cleanly (deitctl exits 130)
      for (pid_t p : pids)
        if (p > 0) kill(p, forwarded);
    }
    int status = 0;
    const pid_t done = waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (pids[r] != done) continue;
        pids[r] = -1;
        --running;
        const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        if (failed && result == kExitOk) {
          result = exit_code(status);
          if (running > 0 && !forwarded) {
            std::fprintf(stderr, "deitctl launch: local rank %zu %s; stopping the other %d\n", r,
                         describe_exit(status).c_str(), running);
            for (pid_t p : pids)
              if (p > 0) kill(p, SIGTERM);
            stopping = true;
            stop_time = std::chrono::steady_clock::now();
          }
        }
      }
      continue;
    }
    if (stopping && std::chrono::duration<double>(std::chrono::steady_clock::now() - stop_time).count() >
                        kGraceSeconds) {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL);
      stopping = false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return result;
}

}  // namespace deitctl
