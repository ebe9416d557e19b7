// Data parallelism over a Group, as PyTorch's DistributedDataParallel does it: every rank starts from rank
// 0's weights, trains on its own part of each global batch, and averages the gradients before each
// optimizer step, so every rank applies the same update.  A null group means one process: no-ops.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <vector>

#include "dist/group.h"

namespace deit::dist {

// A contiguous range of items.
struct Shard {
  int64_t start = 0;
  int64_t count = 0;
};
// Rank `rank`'s share of n items (sizes differ by at most one; rank order).
Shard shard_of(int64_t n, int rank, int world);

inline int rank_of(const Group* g) { return g ? g->rank() : 0; }
inline int size_of(const Group* g) { return g ? g->size() : 1; }

// Rank 0's parameters and buffers everywhere.
void broadcast_module(Group* g, torch::nn::Module& m);
// Floating-point buffers (BatchNorm running statistics) averaged over the ranks.
void average_buffers(Group* g, torch::nn::Module& m);

// Averages the gradients of `params` over the ranks in flat buckets (one allreduce each), and sums a few
// extra numbers per step in the last bucket's message (losses, a cancel flag): no extra round trip.
class GradientAverager {
 public:
  GradientAverager(Group* g, std::vector<at::Tensor> params, int64_t extras);
  // Averages each parameter's .grad() in place (a missing one counts as zeros); returns the extras
  // summed over the ranks.  With one process it returns `extras` and touches nothing.
  std::vector<double> reduce(const std::vector<double>& extras);

 private:
  struct Bucket {
    std::vector<size_t> params;  // indices into params_
    int64_t numel = 0;
    at::Tensor flat;
  };
  Group* group_;
  std::vector<at::Tensor> params_;
  int64_t extras_;
  std::vector<Bucket> buckets_;
};

// Sums `values` over the ranks (doubles, exact for counts below 2^53).
std::vector<double> sum_over_ranks(Group* g, const std::vector<double>& values, const char* what);

}  // namespace deit::dist
