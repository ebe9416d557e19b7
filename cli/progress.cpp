#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>

#include "common.h"

namespace deitctl {

namespace {

constexpr double kRedrawInterval = 0.2;  // seconds: at most ~5 redraws per second
constexpr int kBarWidth = 24;

const char* phase_label(deit_phase phase) {
  switch (phase) {
    case DEIT_PHASE_TEACHER_TRAIN: return "teacher";
    case DEIT_PHASE_TEACHER_LOGITS: return "teacher logits";
    case DEIT_PHASE_DISTILL: return "student";
    case DEIT_PHASE_EVALUATE: return "eval";
  }
  return "?";
}

bool has_loss(deit_phase phase) {
  return phase == DEIT_PHASE_TEACHER_TRAIN || phase == DEIT_PHASE_DISTILL;
}

std::string clock_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

int terminal_width() {
  struct winsize ws;
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
  return 100;
}

}  // namespace

const char* phase_key(deit_phase phase) {
  switch (phase) {
    case DEIT_PHASE_TEACHER_TRAIN: return "teacher";
    case DEIT_PHASE_TEACHER_LOGITS: return "teacher_logits";
    case DEIT_PHASE_DISTILL: return "student";
    case DEIT_PHASE_EVALUATE: return "eval";
  }
  return "unknown";
}

ProgressReporter::ProgressReporter(bool quiet)
    : style_(quiet                   ? Style::Quiet
             : isatty(STDERR_FILENO) ? Style::Bar
                                     : Style::Lines) {
  if (style_ == Style::Bar) width_ = terminal_width();
}

double ProgressReporter::phase_seconds(deit_phase phase) const {
  const int i = static_cast<int>(phase);
  return i >= 0 && i < 4 ? phase_seconds_[i] : 0.0;
}

void ProgressReporter::clear_line() {
  if (!bar_open_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  bar_open_ = false;
}

int ProgressReporter::callback(const deit_progress* progress, void* user_data) {
  if (!progress || !user_data) return 0;
  return static_cast<ProgressReporter*>(user_data)->on_progress(*progress);
}

int ProgressReporter::on_progress(const deit_progress& p) {
  if (interrupted()) {
    clear_line();
    return 1;  // the library stops after this step and returns DEIT_E_CANCELLED
  }
  if (p.end_of_epoch) {
    epochs_.push_back({p.phase, p.epoch, p.epochs, p.steps, p.loss, p.loss_cls, p.loss_dist, p.lr,
                       p.images_per_sec, p.seconds, p.val_accuracy});
    const int i = static_cast<int>(p.phase);
    if (i >= 0 && i < 4) phase_seconds_[i] += p.seconds;
  }
  switch (style_) {
    case Style::Quiet: break;
    case Style::Lines:
      if (p.end_of_epoch) {
        std::fprintf(stderr, "%s\n", epoch_line(p).c_str());
        std::fflush(stderr);
      }
      break;
    case Style::Bar:
      if (p.end_of_epoch) {
        // The finished epoch's bar becomes its summary line.
        std::fprintf(stderr, "\r\033[K%s\n", epoch_line(p).c_str());
        std::fflush(stderr);
        bar_open_ = false;
      } else {
        const auto now = std::chrono::steady_clock::now();
        if (!bar_open_ || std::chrono::duration<double>(now - last_draw_).count() >= kRedrawInterval) {
          last_draw_ = now;
          draw_bar(p);
        }
      }
      break;
  }
  return 0;
}

std::string ProgressReporter::epoch_line(const deit_progress& p) {
  char buf[256];
  if (p.phase == DEIT_PHASE_TEACHER_LOGITS) {
    std::snprintf(buf, sizeof buf, "teacher logits: %.0f images/s, %.1f s", p.images_per_sec, p.seconds);
  } else if (p.phase == DEIT_PHASE_DISTILL) {
    std::snprintf(buf, sizeof buf,
                  "student epoch %d/%d: loss %.4f (cls %.4f, dist %.4f), %.0f images/s, %.1f s", p.epoch,
                  p.epochs, p.loss, p.loss_cls, p.loss_dist, p.images_per_sec, p.seconds);
  } else {
    std::snprintf(buf, sizeof buf, "%s epoch %d/%d: loss %.4f, %.0f images/s, %.1f s", phase_label(p.phase),
                  p.epoch, p.epochs, p.loss, p.images_per_sec, p.seconds);
  }
  std::string line = buf;
  if (p.end_of_epoch && p.val_accuracy >= 0) line += ", validation " + format_percent(p.val_accuracy);
  return line;
}

void ProgressReporter::draw_bar(const deit_progress& p) {
  const double frac = p.steps > 0 ? static_cast<double>(p.step) / static_cast<double>(p.steps) : 0.0;
  const int filled = static_cast<int>(frac * kBarWidth + 0.5);
  std::string bar(static_cast<size_t>(kBarWidth), '.');
  for (int i = 0; i < filled && i < kBarWidth; ++i) bar[static_cast<size_t>(i)] = '#';
  // ETA of the whole phase: the rest of this epoch plus the epochs still to come, at this epoch's pace.
  const double per_step = p.step > 0 ? p.seconds / static_cast<double>(p.step) : NAN;
  const double steps_left = static_cast<double>(p.steps - p.step) +
                            static_cast<double>(p.epochs - p.epoch) * static_cast<double>(p.steps);
  char loss[64] = "";
  if (has_loss(p.phase)) std::snprintf(loss, sizeof loss, "  loss %.4f", p.loss);
  char line[320];
  std::snprintf(line, sizeof line, "%s %d/%d [%s] %lld/%lld%s  %.0f img/s  ETA %s", phase_label(p.phase),
                p.epoch, p.epochs, bar.c_str(), static_cast<long long>(p.step),
                static_cast<long long>(p.steps), loss, p.images_per_sec,
                clock_text(per_step * steps_left).c_str());
  std::string text = line;
  // A line wider than the terminal would wrap and break the \r redraw.
  if (static_cast<int>(text.size()) >= width_) text.resize(static_cast<size_t>(width_ - 1));
  std::fprintf(stderr, "\r\033[K%s", text.c_str());
  std::fflush(stderr);
  bar_open_ = true;
}

}  // namespace deitctl
