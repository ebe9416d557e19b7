// A group of processes that train one model together (data parallelism), on PyTorch's c10d: a TCPStore for
// the rendezvous at rank 0's address, ProcessGroupGloo for CPU tensors and ProcessGroupNCCL for CUDA
// tensors where the build has it.  Every collective failure (a peer that died, a timeout) becomes
// deit::Error(DEIT_E_DISTRIBUTED) naming this rank and the operation.
// The c10d headers and the API differences between LibTorch 1.13 and 2.x stay inside group.cpp.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>

namespace deit::dist {

struct GroupSettings {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "auto";  // "auto", "gloo" or "nccl"
  double timeout_seconds = 300;
};

// Checks the settings; DEIT_E_INVALID_ARG naming the field.
void validate(const GroupSettings& s);

// Whether this build can form groups of more than one process ("gloo", "nccl").
bool backend_available(const std::string& backend);

class Group {
 public:
  // Joins the group: blocks until every rank has arrived or the timeout has passed.
  explicit Group(const GroupSettings& settings);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return settings_.rank; }
  int size() const { return settings_.world_size; }
  bool root() const { return settings_.rank == 0; }
  const GroupSettings& settings() const { return settings_; }
  const std::string& backend() const { return backend_; }

  // Sums `t` (contiguous, any device) over the ranks, in place.  `what` names the data in errors.
  void allreduce_sum(at::Tensor& t, const std::string& what);
  // Overwrites `t` with rank 0's.
  void broadcast_from_root(at::Tensor& t, const std::string& what);
  void barrier(const std::string& what);

  // "rank R of W" and "300 s" (the timeout) for messages.
  std::string who() const;
  std::string seconds_text() const;

  struct Impl;  // the backend (group.cpp)

 private:
  GroupSettings settings_;
  std::string backend_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace deit::dist
