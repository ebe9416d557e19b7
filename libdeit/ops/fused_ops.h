// Exact, faster replacements for the student's hottest training operations on CPU
// (../shared/DESIGN.md, section 7).
//
// PyTorch's CPU dropout draws each mask element from a Bernoulli sampler and stores the mask: on the seed
// student that is a third of a training step.  Here the mask is a pure function of (seed, element index)
// (a counter-based hash, vectorised), so it is never stored: the backward pass recomputes it, or reads it
// off the saved activation.  The ReLU MLP does bias, ReLU and dropout in one pass over the hidden layer and
// saves only its input and that one hidden tensor.  Results are the same maths as the plain ops (dropout
// with probability p scaled by 1/(1-p); ReLU's gradient 0 at 0); only the random stream differs.
// Tensors that are not float32 on the CPU take the plain LibTorch ops.
#pragma once

#include <ATen/ATen.h>

namespace deit::ops {

// Installs, for the calling thread and the scope's lifetime, the stream that dropout mask seeds are drawn
// from.  Training loops install one per step derived from their own seed: runs are then reproducible and
// resumable, and two trainings in two threads never share random draws.  Without a scope, seeds come from
// LibTorch's default CPU generator.  (Tensors off the fast path use LibTorch's own dropout and generator.)
// Data parallelism: a rank whose `batch` samples follow `batch_offset` others in the global batch draws, for
// its batch-major tensors, the mask elements one process would draw for those rows.
class DropoutStreamScope {
 public:
  explicit DropoutStreamScope(uint64_t seed, int64_t batch_offset = 0, int64_t batch = 0);
  ~DropoutStreamScope();
  DropoutStreamScope(const DropoutStreamScope&) = delete;
  DropoutStreamScope& operator=(const DropoutStreamScope&) = delete;

 private:
  bool had_previous_;
  uint64_t previous_;
  int64_t previous_offset_, previous_batch_;
};

// Dropout with probability p (training only; identity when p == 0 or !training).
at::Tensor fast_dropout(const at::Tensor& x, double p, bool training);

// fc2(dropout(relu(fc1(x)))) for x [..., D], w1 [H, D], b1 [H], w2 [D', H], b2 [D'].
at::Tensor relu_dropout_mlp(const at::Tensor& x, const at::Tensor& w1, const at::Tensor& b1,
                            const at::Tensor& w2, const at::Tensor& b2, double p, bool training);

namespace detail {
// Whether element `index` is kept by the mask of `seed` with drop probability threshold / 2^32; exposed for
// tests of the drop rate.
bool dropout_keeps(uint64_t seed, uint32_t threshold, int64_t index);
uint32_t dropout_threshold(double p);
}  // namespace detail

}  // namespace deit::ops
