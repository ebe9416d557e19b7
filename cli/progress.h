// Progress output for training (a redrawn bar on a terminal, one line per epoch otherwise, nothing with
// --quiet) and the per-epoch metrics taken from the library's end-of-epoch reports.  The callback also
// turns Ctrl-C into a cancellation request.
#pragma once

#include <deit/deit.h>

#include <chrono>
#include <string>
#include <vector>

namespace deitctl {

struct EpochMetrics {
  deit_phase phase;
  int32_t epoch;
  int32_t epochs;
  int64_t steps;
  double loss;
  double loss_cls;
  double loss_dist;
  double lr;
  double images_per_sec;
  double seconds;
  double val_accuracy;  // -1: no validation set
};

// "teacher", "teacher_logits", "student", "eval".
const char* phase_key(deit_phase phase);

class ProgressReporter {
 public:
  enum class Style { Bar, Lines, Quiet };
  // Bar when stderr is a terminal, Lines otherwise, Quiet with quiet.
  explicit ProgressReporter(bool quiet);

  deit_progress_fn fn() const { return &ProgressReporter::callback; }
  void* user_data() { return this; }
  Style style() const { return style_; }

  // Every completed epoch, in order.
  const std::vector<EpochMetrics>& epochs() const { return epochs_; }
  // Sum of the end-of-epoch `seconds` of a phase.
  double phase_seconds(deit_phase phase) const;

  // Erases a half-drawn bar so other stderr output starts on a clean line.
  void clear_line();

 private:
  static int callback(const deit_progress* progress, void* user_data);
  int on_progress(const deit_progress& p);
  void draw_bar(const deit_progress& p);
  static std::string epoch_line(const deit_progress& p);

  Style style_;
  bool bar_open_ = false;
  int width_ = 100;
  std::chrono::steady_clock::time_point last_draw_{};
  std::vector<EpochMetrics> epochs_;
  double phase_seconds_[4] = {0, 0, 0, 0};
};

}  // namespace deitctl
