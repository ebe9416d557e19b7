#include "prediction_grid.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

#include "common.h"

#ifdef DEITCTL_HAVE_STB
// Debian's libstb.so carries stb_image_write's implementation; stb_easy_font is header-only (static).
#include <stb/stb_easy_font.h>
#include <stb/stb_image_write.h>
#endif

namespace deitctl {

std::vector<std::string> class_names_for(const std::string& data_dir, int num_classes) {
  std::string lower = data_dir;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (num_classes != 10 || lower.find("fashion") == std::string::npos) return {};
  return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
}

#ifndef DEITCTL_HAVE_STB

bool png_supported() {
  return false;
}

void write_predictions_png(const std::string&, const PredictionGrid&, int, int) {
  throw LibraryError("deitctl was built without stb (libstb-dev): no PNG output");
}

#else

bool png_supported() {
  return true;
}

namespace {

struct Rgb {
  uint8_t r, g, b;
};

constexpr Rgb kBackground{24, 24, 24};
constexpr Rgb kRight{60, 200, 90};
constexpr Rgb kWrong{235, 60, 60};
constexpr Rgb kTruthText{200, 200, 200};
constexpr int kFrame = 2;        // frame thickness around each image
constexpr int kPad = 8;          // space between cells
constexpr int kLineHeight = 12;  // stb_easy_font's glyphs are about 7 px high plus descenders

class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), px_(static_cast<size_t>(w) * static_cast<size_t>(h) * 3) {
    fill(0, 0, w, h, kBackground);
  }
  int width() const { return w_; }
  int height() const { return h_; }
  const uint8_t* data() const { return px_.data(); }

  void set(int x, int y, Rgb c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    uint8_t* p = &px_[(static_cast<size_t>(y) * static_cast<size_t>(w_) + static_cast<size_t>(x)) * 3];
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
  }
  void fill(int x0, int y0, int x1, int y1, Rgb c) {
    for (int y = std::max(0, y0); y < std::min(h_, y1); ++y)
      for (int x = std::max(0, x0); x < std::min(w_, x1); ++x) set(x, y, c);
  }
  // Draws text with its top-left corner at (x, y), clipped to x < clip_x1.
  void text(int x, int y, const std::string& s, Rgb c, int scale, int clip_x1) {
    std::vector<char> mutable_text(s.begin(), s.end());
    mutable_text.push_back('\0');
    std::vector<char> vbuf(s.size() * 300 + 64);  // ~270 bytes per character, as stb_easy_font documents
    const int quads =
        stb_easy_font_print(0, 0, mutable_text.data(), nullptr, vbuf.data(), static_cast<int>(vbuf.size()));
    // Vertex layout: x, y, z (float) + 4 colour bytes = 16 bytes; 4 vertices per axis-aligned quad.
    for (int q = 0; q < quads; ++q) {
      float xs[4], ys[4];
      for (int v = 0; v < 4; ++v) {
        const float* f = reinterpret_cast<const float*>(vbuf.data() + (q * 4 + v) * 16);
        xs[v] = f[0];
        ys[v] = f[1];
      }
      const int qx0 = x + static_cast<int>(std::lround(*std::min_element(xs, xs + 4) * scale));
      const int qx1 = x + static_cast<int>(std::lround(*std::max_element(xs, xs + 4) * scale));
      const int qy0 = y + static_cast<int>(std::lround(*std::min_element(ys, ys + 4) * scale));
      const int qy1 = y + static_cast<int>(std::lround(*std::max_element(ys, ys + 4) * scale));
      fill(qx0, qy0, std::min(qx1, clip_x1), qy1, c);
    }
  }

 private:
  int w_, h_;
  std::vector<uint8_t> px_;
};

int text_width(const std::string& s) {
  std::vector<char> t(s.begin(), s.end());
  t.push_back('\0');
  return stb_easy_font_width(t.data());
}

std::string label(const std::vector<std::string>& names, int32_t k) {
  if (k >= 0 && static_cast<size_t>(k) < names.size()) return names[static_cast<size_t>(k)];
  return std::to_string(k);
}

extern "C" void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::string*>(context);
  out->append(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace

void write_predictions_png(const std::string& path, const PredictionGrid& g, int columns, int scale) {
  if (g.count <= 0 || g.height <= 0 || g.width <= 0 || g.channels <= 0)
    throw std::invalid_argument("write_predictions_png: no images");
  columns = std::max(1, std::min(columns, g.count));
  const int rows = (g.count + columns - 1) / columns;

  std::vector<std::string> pred_text(static_cast<size_t>(g.count)), true_text(static_cast<size_t>(g.count));
  int widest = 0;
  for (int i = 0; i < g.count; ++i) {
    pred_text[static_cast<size_t>(i)] = "pred: " + label(g.class_names, g.predicted[i]);
    true_text[static_cast<size_t>(i)] = "true: " + label(g.class_names, g.truth[i]);
    widest = std::max({widest, text_width(pred_text[static_cast<size_t>(i)]),
                       text_width(true_text[static_cast<size_t>(i)])});
  }
  const int img_w = g.width * scale, img_h = g.height * scale;
  const int framed_w = img_w + 2 * kFrame;
  // Twice the font size when the captions still fit under the image; class names usually do not.
  const int text_scale = widest * 2 <= framed_w ? 2 : 1;
  const int cell_w = std::max(framed_w, widest * text_scale) + kPad;
  const int cell_h = img_h + 2 * kFrame + 4 + 2 * kLineHeight * text_scale + kPad;
  Canvas canvas(columns * cell_w + kPad, rows * cell_h + kPad);

  const size_t plane = static_cast<size_t>(g.height) * static_cast<size_t>(g.width);
  for (int i = 0; i < g.count; ++i) {
    const bool right = g.predicted[i] == g.truth[i];
    const Rgb mark = right ? kRight : kWrong;
    const int cx = kPad + (i % columns) * cell_w, cy = kPad + (i / columns) * cell_h;
    canvas.fill(cx, cy, cx + framed_w, cy + img_h + 2 * kFrame, mark);
    const uint8_t* img = g.images + static_cast<size_t>(i) * static_cast<size_t>(g.channels) * plane;
    for (int y = 0; y < img_h; ++y)
      for (int x = 0; x < img_w; ++x) {
        const size_t src =
            static_cast<size_t>(y / scale) * static_cast<size_t>(g.width) + static_cast<size_t>(x / scale);
        Rgb c;
        if (g.channels == 3)
          c = {img[src], img[plane + src], img[2 * plane + src]};
        else
          c = {img[src], img[src], img[src]};
        canvas.set(cx + kFrame + x, cy + kFrame + y, c);
      }
    const int ty = cy + img_h + 2 * kFrame + 4;
    const int clip = cx + cell_w - kPad / 2;
    canvas.text(cx, ty, pred_text[static_cast<size_t>(i)], mark, text_scale, clip);
    canvas.text(cx, ty + kLineHeight * text_scale, true_text[static_cast<size_t>(i)], kTruthText, text_scale,
                clip);
  }

  std::string png;
  if (!stbi_write_png_to_func(append_bytes, &png, canvas.width(), canvas.height(), 3, canvas.data(),
                              canvas.width() * 3))
    throw LibraryError(std::string(deit_status_str(DEIT_E_IO)) + ": cannot encode " + path);
  write_file_atomic(path, png);
}

#endif  // DEITCTL_HAVE_STB

}  // namespace deitctl
