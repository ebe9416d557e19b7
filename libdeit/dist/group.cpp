#include "dist/group.h"

#include <c10/util/Exception.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/error.h"
#include "core/log.h"

// The one place that names c10d types.  LibTorch 1.13 (Debian) derives the backends from
// c10d::ProcessGroup, 2.x from c10d::Backend; both take (store, rank, size, options), and `auto` holds
// the work handle whose type differs (ProcessGroup::Work vs c10d::Work).
#if DEIT_HAVE_GLOO || DEIT_HAVE_NCCL
#define DEIT_HAVE_C10D 1
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#if DEIT_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if DEIT_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace deit::dist {

namespace {

// The first line of what c10d or Gloo said (c10::Error without its backtrace).
std::string reason(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  const std::string s = c10 ? c10->what_without_backtrace() : e.what();
  const size_t end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}

}  // namespace

struct Group::Impl {
  virtual ~Impl() = default;
  virtual void allreduce(at::Tensor& t) = 0;
  virtual void broadcast(at::Tensor& t) = 0;
  virtual void barrier() = 0;
};

namespace {

#if DEIT_HAVE_C10D
// The same calls on either backend class.  Gloo here exchanges CPU tensors: a CUDA tensor goes through a
// host copy (NCCL is the backend for CUDA).
template <class Backend>
struct C10dImpl : Group::Impl {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Backend> pg;
  bool host_only = false;

  template <class Op>
  void on_host(at::Tensor& t, Op op) {
    if (!host_only || t.device().is_cpu()) {
      std::vector<at::Tensor> v{t};
      op(v);
      return;
    }
    std::vector<at::Tensor> v{t.cpu()};
    op(v);
    t.copy_(v[0]);
  }
  void allreduce(at::Tensor& t) override {
    on_host(t, [&](std::vector<at::Tensor>& v) { pg->allreduce(v)->wait(); });
  }
  void broadcast(at::Tensor& t) override {
    on_host(t, [&](std::vector<at::Tensor>& v) {
      c10d::BroadcastOptions o;
      o.rootRank = 0;
      pg->broadcast(v, o)->wait();
    });
  }
  void barrier() override { pg->barrier()->wait(); }
};

[[maybe_unused]] bool is_loopback(const std::string& addr) {
  return addr == "127.0.0.1" || addr == "localhost" || addr == "::1";
}

std::unique_ptr<Group::Impl> connect(const GroupSettings& s, const std::string& backend) {
  (void)backend;  // only NCCL builds have a choice
  const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(s.timeout_seconds * 1000.0));
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(s.master_port);
  so.isServer = s.rank == 0;
  so.numWorkers = static_cast<size_t>(s.world_size);
  so.waitWorkers = true;
  so.timeout = timeout;
  auto store = c10::make_intrusive<c10d::TCPStore>(s.master_addr, so);
#if DEIT_HAVE_NCCL
  if (backend == "nccl") {
    // Without blocking wait, a NCCL collective whose peer died would wait forever.
    setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
    setenv("NCCL_BLOCKING_WAIT", "1", 0);
    auto opts = c10d::ProcessGroupNCCL::Options::create();
    opts->timeout = timeout;
    auto impl = std::make_unique<C10dImpl<c10d::ProcessGroupNCCL>>();
    impl->store = store;
    impl->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, s.rank, s.world_size, opts);
    return impl;
  }
#endif
#if DEIT_HAVE_GLOO
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  // GLOO_SOCKET_IFNAME picks the network interface, as in PyTorch; a group on this machine uses loopback.
  const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
  if (ifname && *ifname)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (is_loopback(s.master_addr))
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  auto impl = std::make_unique<C10dImpl<c10d::ProcessGroupGloo>>();
  impl->store = store;
  impl->host_only = true;
  impl->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, s.rank, s.world_size, opts);
  return impl;
#else
  fail(DEIT_E_UNSUPPORTED, "backend " + backend + " is not in this build");
#endif
}
#endif

}  // namespace

void validate(const GroupSettings& s) {
  require(s.world_size >= 1, "world_size = " + std::to_string(s.world_size) + "; expected at least 1");
  require(s.rank >= 0 && s.rank < s.world_size,
          "rank = " + std::to_string(s.rank) + "; expected 0.." + std::to_string(s.world_size - 1));
  require(s.local_rank >= 0, "local_rank = " + std::to_string(s.local_rank) + "; expected at least 0");
  require(s.master_port >= 1 && s.master_port <= 65535,
          "master_port = " + std::to_string(s.master_port) + "; expected 1..65535");
  require(!s.master_addr.empty(), "master_addr is empty");
  require(s.timeout_seconds > 0 && s.timeout_seconds <= 7 * 24 * 3600.0,
          "timeout_seconds = " + std::to_string(s.timeout_seconds) + "; expected more than 0 (at most a week)");
  require(s.backend == "auto" || s.backend == "gloo" || s.backend == "nccl",
          "backend '" + s.backend + "' is not auto, gloo or nccl");
}

bool backend_available(const std::string& backend) {
#if DEIT_HAVE_GLOO
  if (backend == "gloo") return true;
#endif
#if DEIT_HAVE_NCCL
  if (backend == "nccl") return true;
#endif
  (void)backend;
  return false;
}

Group::Group(const GroupSettings& settings) : settings_(settings) {
  validate(settings_);
  backend_ = settings_.backend;
  if (backend_ == "auto") backend_ = backend_available("nccl") && at::hasCUDA() ? "nccl" : "gloo";
  if (settings_.world_size == 1) return;  // nothing to exchange: no store, no sockets
  if (!backend_available(backend_))
    fail(DEIT_E_UNSUPPORTED, "this libdeit was built without c10d " + backend_ +
                                 (backend_ == "gloo" ? " (the gloo headers, Debian's libgloo-dev, were missing)"
                                                     : " (LibTorch without CUDA, or nccl.h missing)"));
#if DEIT_HAVE_C10D
  log(DEIT_LOG_INFO, who() + ": joining " + backend_ + " group at " + settings_.master_addr + ":" +
                         std::to_string(settings_.master_port));
  try {
    impl_ = connect(settings_, backend_);
  } catch (const Error&) {
    throw;  // this build lacks the backend
  } catch (const std::exception& e) {
    fail(DEIT_E_DISTRIBUTED, who() + ": could not join the group at " + settings_.master_addr + ":" +
                                 std::to_string(settings_.master_port) + " within " + seconds_text() +
                                 ": " + reason(e));
  }
#endif
}

Group::~Group() = default;

std::string Group::seconds_text() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", settings_.timeout_seconds);
  return buf;
}

std::string Group::who() const {
  return "rank " + std::to_string(settings_.rank) + " of " + std::to_string(settings_.world_size);
}

namespace {

template <class Op>
void run_collective(const Group& g, const std::string& what, Op op) {
  try {
    op();
  } catch (const std::exception& e) {
    fail(DEIT_E_DISTRIBUTED, g.who() + ": " + what + " failed: " + reason(e) +
                                 " (another rank stopped or failed, or none answered within " +
                                 g.seconds_text() + ")");
  }
}

}  // namespace

void Group::allreduce_sum(at::Tensor& t, const std::string& what) {
  if (!impl_) return;
  run_collective(*this, what, [&] { impl_->allreduce(t); });
}

void Group::broadcast_from_root(at::Tensor& t, const std::string& what) {
  if (!impl_) return;
  run_collective(*this, what, [&] { impl_->broadcast(t); });
}

void Group::barrier(const std::string& what) {
  if (!impl_) return;
  run_collective(*this, what, [&] { impl_->barrier(); });
}

}  // namespace deit::dist
