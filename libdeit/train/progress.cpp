#include "train/progress.h"

#include "core/error.h"
#include "core/log.h"

namespace deit::train {

namespace {
constexpr double kReportInterval = 0.2;  // seconds between callback calls
}

Progress::Progress(deit_phase phase, int32_t epochs, deit_progress_fn fn, void* user_data)
    : phase_(phase), epochs_(epochs), fn_(fn), user_data_(user_data) {}

void Progress::start_epoch(int32_t epoch, int64_t steps) {
  epoch_ = epoch;
  steps_ = steps;
  done_ = images_ = 0;
  loss_sum_ = cls_sum_ = dist_sum_ = 0;
  epoch_start_ = last_report_ = std::chrono::steady_clock::now();
}

double Progress::epoch_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - epoch_start_).count();
}

void Progress::step(int64_t step, double loss, double loss_cls, double loss_dist, int64_t images, double lr,
                    double val_accuracy) {
  ++done_;
  step_ = step;
  images_ += images;
  loss_sum_ += loss;
  cls_sum_ += loss_cls;
  dist_sum_ += loss_dist;
  const auto now = std::chrono::steady_clock::now();
  const bool last = step == steps_;
  if (!last && std::chrono::duration<double>(now - last_report_).count() < kReportInterval) return;
  last_report_ = now;
  const double secs = epoch_seconds();
  deit_progress p{};
  p.struct_size = sizeof p;
  p.phase = phase_;
  p.epoch = epoch_;
  p.epochs = epochs_;
  p.step = step;
  p.steps = steps_;
  p.loss = mean_loss();
  p.loss_cls = mean_loss_cls();
  p.loss_dist = mean_loss_dist();
  p.lr = lr;
  p.images_per_sec = secs > 0 ? static_cast<double>(images_) / secs : 0.0;
  p.seconds = secs;
  p.end_of_epoch = last ? 1 : 0;
  p.val_accuracy = last ? val_accuracy : -1.0;
  if (last && log_enabled(DEIT_LOG_INFO))
    log(DEIT_LOG_INFO, "phase " + std::to_string(phase_) + " epoch " + std::to_string(epoch_) + "/" +
                           std::to_string(epochs_) + ": loss " + std::to_string(p.loss) + ", " +
                           std::to_string(p.images_per_sec) + " images/s" +
                           (p.val_accuracy >= 0 ? ", validation accuracy " + std::to_string(p.val_accuracy) : ""));
  if (fn_ && fn_(&p, user_data_) != 0) {
    if (!defer_cancel_) cancelled("the progress callback");
    cancel_requested_ = true;
  }
}

void Progress::cancelled(const std::string& by) const {
  fail(DEIT_E_CANCELLED, "cancelled by " + by + " at epoch " + std::to_string(epoch_) + ", step " +
                             std::to_string(step_));
}

}  // namespace deit::train
