#include "train/parallel_loop.h"

namespace deit::train {

void cancelled_by_a_rank(const Progress& progress, const dist::Group& group) {
  progress.cancelled("a progress callback (" + group.who() + " or another rank)");
}

ParallelLoop::ParallelLoop(dist::Group* group, int64_t batch, std::vector<at::Tensor> params, int64_t losses,
                           Progress& progress)
    : group_(several_ranks(group)),
      rank_(dist::rank_of(group_)),
      world_(dist::size_of(group_)),
      batch_(batch),
      progress_(progress),
      averager_(group_, std::move(params), losses + 1) {
  if (group_) progress_.defer_cancel();
}

std::vector<double> ParallelLoop::after_backward(const std::vector<double>& losses) {
  if (!group_) return losses;
  std::vector<double> extras = losses;
  extras.push_back(progress_.cancel_requested() ? 1.0 : 0.0);
  std::vector<double> sums = averager_.reduce(extras);
  if (sums.back() > 0) cancelled_by_a_rank(progress_, *group_);
  sums.pop_back();
  for (double& v : sums) v /= world_;
  return sums;
}

void ParallelLoop::finish() {
  if (!group_) return;
  const double flag = progress_.cancel_requested() ? 1.0 : 0.0;
  if (dist::sum_over_ranks(group_, {flag}, "agreeing on the end of training")[0] > 0)
    cancelled_by_a_rank(progress_, *group_);
}

}  // namespace deit::train
