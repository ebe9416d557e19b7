#include "dist/data_parallel.h"

#include <torch/autograd.h>

#include "core/error.h"

namespace deit::dist {

namespace {
// PyTorch DDP's default bucket size: few enough messages for the latency, small enough to stay in cache.
constexpr int64_t kBucketBytes = 25 << 20;
}  // namespace

Shard shard_of(int64_t n, int rank, int world) {
  const int64_t base = n / world, extra = n % world;
  Shard s;
  s.start = rank * base + std::min<int64_t>(rank, extra);
  s.count = base + (rank < extra ? 1 : 0);
  return s;
}

void broadcast_module(Group* g, torch::nn::Module& m) {
  if (!g || g->size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& item : m.named_parameters()) {
    at::Tensor t = item.value().data();
    g->broadcast_from_root(t, "broadcasting parameter " + item.key());
  }
  for (auto& item : m.named_buffers()) {
    at::Tensor t = item.value();
    g->broadcast_from_root(t, "broadcasting buffer " + item.key());
  }
}

void average_buffers(Group* g, torch::nn::Module& m) {
  if (!g || g->size() == 1) return;
  torch::NoGradGuard no_grad;
  for (auto& item : m.named_buffers()) {
    at::Tensor t = item.value();
    if (!t.is_floating_point()) continue;  // num_batches_tracked counts the same on every rank
    g->allreduce_sum(t, "averaging buffer " + item.key());
    t.div_(g->size());
  }
}

GradientAverager::GradientAverager(Group* g, std::vector<at::Tensor> params, int64_t extras)
    : group_(g), params_(std::move(params)), extras_(extras) {
  if (!group_ || group_->size() == 1) return;
  for (size_t i = 0; i < params_.size(); ++i) {
    const at::Tensor& p = params_[i];
    const bool fits = !buckets_.empty() &&
                      (buckets_.back().numel + p.numel()) * p.element_size() <= kBucketBytes &&
                      params_[buckets_.back().params.front()].options().type_equal(p.options());
    if (!fits) buckets_.emplace_back();
    buckets_.back().params.push_back(i);
    buckets_.back().numel += p.numel();
  }
  if (buckets_.empty()) buckets_.emplace_back();
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& k = buckets_[b];
    const int64_t extra = b + 1 == buckets_.size() ? extras_ : 0;
    const at::TensorOptions opts =
        k.params.empty() ? at::TensorOptions().dtype(at::kFloat) : params_[k.params.front()].options();
    k.flat = at::empty({k.numel + extra}, opts.requires_grad(false));
  }
}

std::vector<double> GradientAverager::reduce(const std::vector<double>& extras) {
  require(static_cast<int64_t>(extras.size()) == extras_, "GradientAverager: wrong number of extras");
  if (!group_ || group_->size() == 1) return extras;
  torch::NoGradGuard no_grad;
  const double inv = 1.0 / group_->size();
  std::vector<double> sums;
  for (size_t b = 0; b < buckets_.size(); ++b) {
    Bucket& k = buckets_[b];
    const bool last = b + 1 == buckets_.size();
    int64_t offset = 0;
    for (size_t i : k.params) {
      const at::Tensor& p = params_[i];
      at::Tensor part = k.flat.narrow(0, offset, p.numel());
      if (p.grad().defined())
        part.copy_(p.grad().reshape({-1}));
      else
        part.zero_();
      offset += p.numel();
    }
    if (last && extras_ > 0) {
      const at::Tensor e = at::tensor(extras, at::TensorOptions().dtype(at::kDouble));
      k.flat.narrow(0, k.numel, extras_).copy_(e);
    }
    group_->allreduce_sum(k.flat, "averaging gradients");
    if (last && extras_ > 0) {
      const at::Tensor e = k.flat.narrow(0, k.numel, extras_).to(at::kDouble).cpu();
      sums.assign(e.data_ptr<double>(), e.data_ptr<double>() + extras_);
    }
    offset = 0;
    for (size_t i : k.params) {
      at::Tensor& p = params_[i];
      const at::Tensor part = k.flat.narrow(0, offset, p.numel()).view(p.sizes());
      if (p.grad().defined())
        p.mutable_grad().copy_(part).mul_(inv);
      else
        p.mutable_grad() = part.clone().mul_(inv);
      offset += p.numel();
    }
  }
  return sums;
}

std::vector<double> sum_over_ranks(Group* g, const std::vector<double>& values, const char* what) {
  if (!g || g->size() == 1) return values;
  at::Tensor t = at::tensor(values, at::TensorOptions().dtype(at::kDouble));
  g->allreduce_sum(t, what);
  return std::vector<double>(t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
}

}  // namespace deit::dist
