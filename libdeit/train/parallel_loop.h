// What a training loop does differently when it is one rank of a data-parallel group (dist/): its part of
// each global batch, the gradient average before the update, and stopping together.  With no group it is
// the single-process loop: the whole batch, nothing exchanged.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "dist/data_parallel.h"
#include "train/progress.h"

namespace deit::train {

// `group` when it has more than one rank, else null: a group of one is the single-process loop.
inline dist::Group* several_ranks(dist::Group* group) {
  return group && group->size() > 1 ? group : nullptr;
}

// DEIT_E_CANCELLED on every rank of `group` once some rank's progress callback asked to stop.
[[noreturn]] void cancelled_by_a_rank(const Progress& progress, const dist::Group& group);

class ParallelLoop {
 public:
  // `batch` is per rank; `params` are the trained parameters; `losses` numbers are reported per step.
  ParallelLoop(dist::Group* group, int64_t batch, std::vector<at::Tensor> params, int64_t losses,
               Progress& progress);
  int64_t batch() const { return batch_; }
  int64_t global_batch() const { return batch_ * world_; }
  // Samples of the global batch before this rank's (its dropout masks continue theirs).
  int64_t batch_offset() const { return batch_ * rank_; }
  // This rank's indices for 0-based `step` of an epoch whose global order is `perm`: the same global batch
  // one process would take, split across the ranks in rank order (disjoint, all used).
  at::Tensor indices(const at::Tensor& perm, int64_t step) const {
    return perm.narrow(0, step * global_batch() + batch_offset(), batch_);
  }
  // Between backward and the optimizer step: averages the gradients and returns `losses` averaged over the
  // ranks.  DEIT_E_CANCELLED on every rank when any rank's progress callback asked to stop at its previous
  // step (no rank updates its weights then).
  std::vector<double> after_backward(const std::vector<double>& losses);
  // After the last step: a cancel asked for at the very end stops every rank alike.
  void finish();

 private:
  dist::Group* group_;
  int rank_, world_;
  int64_t batch_;
  Progress& progress_;
  dist::GradientAverager averager_;
};

}  // namespace deit::train
