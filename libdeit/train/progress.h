// Progress reports to the user's callback (throttled), and cancellation.
#pragma once

#include <deit/deit.h>

#include <chrono>
#include <string>

namespace deit::train {

class Progress {
 public:
  Progress(deit_phase phase, int32_t epochs, deit_progress_fn fn, void* user_data);
  void start_epoch(int32_t epoch, int64_t steps);
  // Called after each step with the step's loss parts and batch size; val_accuracy (-1: none) is reported
  // with an epoch's last step.  Throws deit::Error(DEIT_E_CANCELLED) when the callback asks to stop.
  void step(int64_t step, double loss, double loss_cls, double loss_dist, int64_t images, double lr,
            double val_accuracy = -1.0);
  // The epoch's mean loss so far.
  double mean_loss() const { return done_ ? loss_sum_ / static_cast<double>(done_) : 0.0; }
  double mean_loss_cls() const { return done_ ? cls_sum_ / static_cast<double>(done_) : 0.0; }
  double mean_loss_dist() const { return done_ ? dist_sum_ / static_cast<double>(done_) : 0.0; }
  double epoch_seconds() const;
  // Data parallelism: a cancel is only recorded here (cancel_requested()), so that every rank can stop at
  // the same step once the request has been shared with the others.
  void defer_cancel() { defer_cancel_ = true; }
  bool cancel_requested() const { return cancel_requested_; }
  // Throws deit::Error(DEIT_E_CANCELLED) naming where training stopped.
  [[noreturn]] void cancelled(const std::string& by) const;

 private:
  deit_phase phase_;
  int32_t epochs_;
  deit_progress_fn fn_;
  void* user_data_;
  int32_t epoch_ = 0;
  int64_t steps_ = 0;
  int64_t done_ = 0;
  int64_t step_ = 0;  // the last step reported
  int64_t images_ = 0;
  double loss_sum_ = 0, cls_sum_ = 0, dist_sum_ = 0;
  bool defer_cancel_ = false, cancel_requested_ = false;
  std::chrono::steady_clock::time_point epoch_start_, last_report_;
};

}  // namespace deit::train
